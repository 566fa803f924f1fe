package tui

import (
	"bytes"
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
)

var colourSGR = regexp.MustCompile(`\x1b\[[0-9;]*(3[0-9]|4[0-9]|9[0-7]|10[0-7])(;[0-9]+)*m`)

// TestTerminalOptions: serial terminals get ASCII without colour, a dumb
// (or unnamed) terminal also no alternate screen; the Linux console keeps
// its colours.
func TestTerminalOptions(t *testing.T) {
	for _, tc := range []struct {
		term                 string
		ascii, noColor, dumb bool
	}{
		{"xterm-256color", false, false, false},
		{"linux", true, false, false},
		{"vt100", true, true, false},
		{"vt220", true, true, false},
		{"dumb", true, true, true},
		{"", true, true, true},
	} {
		o := TerminalOptions(tc.term)
		if o.ASCII != tc.ascii || o.NoColor != tc.noColor || o.Dumb != tc.dumb {
			t.Errorf("TERM=%q: %+v", tc.term, o)
		}
		m, _ := loaded(t, "kdump-6.1-lzo", o)
		for _, p := range []string{"1", "2", "5"} {
			m = press(m, p)
			v := m.View()
			if tc.noColor && colourSGR.MatchString(v.Content) {
				t.Errorf("TERM=%q page %s: colour %q", tc.term, p, colourSGR.FindString(v.Content))
			}
			if !tc.noColor && !colourSGR.MatchString(v.Content) {
				t.Errorf("TERM=%q page %s: no colour at all (the check cannot see colour)", tc.term, p)
			}
			if v.AltScreen == tc.dumb {
				t.Errorf("TERM=%q: alternate screen %v", tc.term, v.AltScreen)
			}
		}
	}
}

// keyboardQueries are the keyboard-protocol and mode-query sequences the
// renderer sends (see terminalQueries), and the alternate screen.
var keyboardQueries = regexp.MustCompile(`\x1b\[(>4;\d*m|>\d+u|\?u|\?2026\$p)`)

// runOutput runs the program on the fixture with keys from a pipe and
// returns what it wrote to a file, through quietOutput when quiet.
func runOutput(t *testing.T, opts Options, quiet bool) string {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out tea.ProgramOption = tea.WithOutput(f)
	if quiet {
		out = tea.WithOutput(quietOutput{f})
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	go func() {
		time.Sleep(300 * time.Millisecond)
		w.WriteString("q")
		w.Close()
	}()
	opts.ProgramOptions = []tea.ProgramOption{out, tea.WithInput(r), tea.WithWindowSize(80, 24),
		tea.WithEnvironment([]string{"TERM=dumb"})}
	src := loadFake(t, "kdump-6.1-lzo")
	if err := Run(src, opts); err != nil {
		t.Fatal(err)
	}
	// Run identified the dump before the program; the program went on
	// from the log.
	if got := strings.Join(src.calls, ","); got != "identify,log,analyse,close" {
		t.Errorf("source calls %s", got)
	}
	b, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestDumbTerminal: on a dumb terminal the program neither switches to the
// alternate screen nor sends keyboard protocol or mode queries, whose
// answers would be typed into the shell after exit. The same run on a
// normal terminal sends both, so the check can see them.
func TestDumbTerminal(t *testing.T) {
	normal := runOutput(t, Options{}, false)
	if !strings.Contains(normal, "\x1b[?1049h") || !keyboardQueries.MatchString(normal) {
		t.Fatalf("a normal run sends no alternate screen or queries: %q", normal)
	}
	dumb := runOutput(t, TerminalOptions("dumb"), true)
	for _, seq := range []string{"\x1b[?1049h", "\x1b[?2004h", "\x1b]2;"} {
		if !strings.Contains(normal, seq) {
			t.Errorf("a normal run does not send %q", seq)
		}
		if strings.Contains(dumb, seq) {
			t.Errorf("dumb terminal: sent %q (alternate screen, bracketed paste or title)", seq)
		}
	}
	if q := keyboardQueries.FindString(dumb); q != "" {
		t.Errorf("dumb terminal: sent %q", q)
	}
	if !strings.Contains(dumb, "Overview") {
		t.Errorf("dumb terminal: nothing drawn: %q", dumb)
	}
}

// TestQuietOutput: the filter removes exactly the queries.
func TestQuietOutput(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	in := "a\x1b[>4;2mb\x1b[>1uc\x1b[?ud\x1b[<1ue\x1b[=1;1uf\x1b[?2026$p\x1b[?2027$pg\x1b[1mh\x1b[>4m"
	if n, err := (quietOutput{f}).Write([]byte(in)); err != nil || n != len(in) {
		t.Fatalf("wrote %d, %v", n, err)
	}
	f.Close()
	got, _ := os.ReadFile(f.Name())
	if want := "abcdefg\x1b[1mh"; string(got) != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestOpenErrorAtOnce: a file that is not a dump is an error before the
// screen is taken over — nothing is drawn, the source is closed.
func TestOpenErrorAtOnce(t *testing.T) {
	src := loadFake(t, "kdump-6.1-lzo")
	src.openErr = errNotADump
	var out bytes.Buffer
	err := Run(src, Options{ProgramOptions: []tea.ProgramOption{tea.WithOutput(&out), tea.WithInput(strings.NewReader(""))}})
	if !errors.Is(err, errNotADump) {
		t.Fatalf("Run: %v", err)
	}
	if out.Len() != 0 {
		t.Errorf("drew %q before the error", out.String())
	}
	if got := strings.Join(src.calls, ","); got != "identify,close" {
		t.Errorf("calls %s", got)
	}
}
