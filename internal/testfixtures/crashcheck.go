package testfixtures

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// CrashLog is the "### log: N lines, last 30:" section that a fixture's
// crash-check.txt holds for the dump file named file: what crash printed
// for `log`. ok is false when crash did not run on that file.
func CrashLog(t testing.TB, f Fixture, file string) (total int, tail []string, ok bool) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(f.Dir, "crash-check.txt"))
	if err != nil {
		return 0, nil, false
	}
	inFile := false
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "### crash ") {
			fields := strings.Fields(line)
			inFile = fields[len(fields)-1] == file
			continue
		}
		if !inFile || !strings.HasPrefix(line, "### log: ") {
			continue
		}
		if _, err := fmt.Sscanf(line, "### log: %d lines", &total); err != nil {
			t.Fatalf("crash-check.txt: %q: %v", line, err)
		}
		for sc.Scan() && sc.Text() != "" && !strings.HasPrefix(sc.Text(), "###") {
			tail = append(tail, sc.Text())
		}
		return total, tail, total > 0
	}
	return 0, nil, false
}
