package main

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"

	"github.com/panicscope/panicscope/views"
	"github.com/panicscope/panicscope/vmcore/analysis"
	"github.com/panicscope/panicscope/vmcore/target"
)

// dumpSource is the TUI's tui.Source over a dump file, in the stages the
// TUI shows: identify (open, VMCOREINFO, notes), log, analysis. Its
// methods may be called from the program's command goroutines; a mutex
// orders them against Close.
// Each stage is one of target's staged accessors.
type dumpSource struct {
	path  string
	opt   target.Options
	flags []string // the same options as flags, for Command

	mu     sync.Mutex
	tgt    *target.Target
	closed bool
}

// newDumpSource prepares to read the dump at path; nothing is opened yet.
func newDumpSource(path string, opt target.Options) *dumpSource {
	return &dumpSource{path: path, opt: opt}
}

var errClosed = errors.New("dump closed")

// Name is the dump's folder and file name, "kdump-6.1-lzo/vmcore".
func (s *dumpSource) Name() string {
	return filepath.Join(filepath.Base(filepath.Dir(s.path)), filepath.Base(s.path))
}

// Path is the dump's path as given.
func (s *dumpSource) Path() string { return s.path }

// Identify opens the dump and reads what `panicscope info` shows.
func (s *dumpSource) Identify() (*views.Identity, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errClosed
	}
	t, err := target.Open(s.path, s.opt)
	if err != nil {
		return nil, err
	}
	s.tgt = t
	id := analysis.Identify(t.Dump)
	return &id, nil
}

// Log reads the kernel log; it needs only VMCOREINFO, not symbols.
func (s *dumpSource) Log() ([]views.LogLine, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.tgt == nil {
		return nil, errClosed
	}
	log, err := s.tgt.Log()
	if err != nil {
		return nil, err
	}
	return log.Lines(), nil
}

// Analyse loads symbols and types and builds the report.
func (s *dumpSource) Analyse() (*views.Report, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.tgt == nil {
		return nil, errClosed
	}
	return analysis.Build(s.tgt), nil
}

// Close closes the dump, waiting for a stage still running.
func (s *dumpSource) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if s.tgt == nil {
		return nil
	}
	err := s.tgt.Close()
	s.tgt = nil
	return err
}

// Command runs one of panicscope's commands on this dump for the TUI's
// command line: "ps --state R" runs `panicscope ps DUMP --state R` with
// the options the view was opened with. Each command opens the dump
// again (cheap: identify only), as it does from the shell.
func (s *dumpSource) Command(line string, width int) (string, error) {
	args := strings.Fields(line)
	if len(args) == 0 {
		return "", errors.New("no command")
	}
	name := args[0]
	var names []string
	known := false
	for _, c := range commands() {
		if tuiCommands[c.name] {
			names = append(names, c.name)
			known = known || c.name == name
		}
	}
	if !known {
		return "", fmt.Errorf("%q is not a command here; try %s", name, strings.Join(names, ", "))
	}
	argv := append([]string{name, s.path}, args[1:]...)
	argv = append(argv, s.flags...)
	if name == "report" && width > 0 {
		argv = append(argv, "--width", fmt.Sprint(width))
	}
	var out bytes.Buffer
	err := run(argv, &out, &out)
	var ue usageError
	if errors.As(err, &ue) {
		err = fmt.Errorf("%w ('%s --help' lists its flags)", err, name)
	}
	return out.String(), err
}

// tuiCommands are the commands the TUI's command line runs: those that
// read the dump and print text.
var tuiCommands = map[string]bool{
	"info": true, "sym": true, "report": true, "plan": true, "log": true, "type": true, "bt": true,
	"ps": true, "mod": true, "struct": true, "p": true, "rd": true, "list": true, "dis": true,
}

// args are the flags that choose where symbols and types come from, for
// the commands run from the TUI.
func (f targetFlags) args() []string {
	var out []string
	if f.symbols != "" {
		out = append(out, "--symbols", f.symbols)
	}
	if f.vmlinux != "" {
		out = append(out, "--vmlinux", f.vmlinux)
	}
	if f.force {
		out = append(out, "--force")
	}
	return out
}
