package tui

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/panicscope/panicscope/views"
)

// The stored reports and log excerpts of package views (generated once from
// the real dumps), so these tests need no ../shared.
const viewsTestdata = "../views/testdata"

// fakeSource serves a stored report; it records the order of the calls.
type fakeSource struct {
	name    string
	r       *views.Report
	lines   []views.LogLine
	openErr error
	logErr  error

	mu    sync.Mutex
	calls []string
}

func loadFake(t testing.TB, fixture string) *fakeSource {
	t.Helper()
	src := &fakeSource{name: fixture + "/vmcore", r: &views.Report{}}
	for _, f := range []struct {
		file string
		v    any
	}{{filepath.Join("report", fixture+".json"), src.r}, {fixture + ".log.json", &src.lines}} {
		b, err := os.ReadFile(filepath.Join(viewsTestdata, f.file))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, f.v); err != nil {
			t.Fatal(err)
		}
	}
	return src
}

func (s *fakeSource) call(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, name)
}

func (s *fakeSource) Name() string { return s.name }
func (s *fakeSource) Path() string { return "/dumps/" + s.name }

func (s *fakeSource) Identify() (*views.Identity, error) {
	s.call("identify")
	if s.openErr != nil {
		return nil, s.openErr
	}
	id := s.r.Identity
	id.PanicMessage = nil // Identify does not read the log
	return &id, nil
}

func (s *fakeSource) Log() ([]views.LogLine, error) {
	s.call("log")
	return s.lines, s.logErr
}

func (s *fakeSource) Analyse() (*views.Report, error) {
	s.call("analyse")
	return s.r, nil
}

func (s *fakeSource) Close() error {
	s.call("close")
	return nil
}

var errNotADump = errors.New("not a kernel crash dump: unknown magic")

// Command implements Commander: "echo WORDS" prints the words, one a
// line, as wide as asked; anything else fails.
func (s *fakeSource) Command(line string, width int) (string, error) {
	s.call("command " + line)
	f := strings.Fields(line)
	if len(f) == 0 || f[0] != "echo" {
		return "", fmt.Errorf("%q is not a command here", line)
	}
	var b strings.Builder
	for _, w := range f[1:] {
		fmt.Fprintf(&b, "%s\n", w)
	}
	fmt.Fprintf(&b, "%s\n", strings.Repeat("=", width+20))
	return b.String(), nil
}
