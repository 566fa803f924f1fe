package main

import (
	"errors"
	"path/filepath"
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
	path string
	opt  target.Options

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
