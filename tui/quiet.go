package tui

import (
	"os"
	"regexp"
)

// terminalQueries are the sequences bubbletea sends unasked that a dumb
// terminal would print or answer into the shell after exit: the keyboard
// protocols (xterm modifyOtherKeys CSI > 4 ; n m, kitty's CSI > flags u,
// CSI < n u, CSI = flags ; mode u and its query CSI ? u) and mode queries
// (DECRQM CSI ? n $ p, sent for synchronized output and Unicode core).
// The renderer has no option to leave them out when input is read.
var terminalQueries = regexp.MustCompile(`\x1b\[(?:>4(?:;\d*)?m|[>=<]\d*(?:;\d*)?u|\?u|\?\d+\$p)`)

// quietOutput is the terminal with those sequences removed; it stays an
// *os.File underneath so the program still reads the window size.
type quietOutput struct{ *os.File }

func (q quietOutput) Write(b []byte) (int, error) {
	if _, err := q.File.Write(terminalQueries.ReplaceAll(b, nil)); err != nil {
		return 0, err
	}
	return len(b), nil
}
