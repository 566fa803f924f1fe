package tui

import (
	"errors"
	"path/filepath"
	"sync"

	tea "charm.land/bubbletea/v2"

	"github.com/panicscope/panicscope/vmcore/analysis"
	"github.com/panicscope/panicscope/vmcore/printk"
	"github.com/panicscope/panicscope/vmcore/target"
)

// Source loads a dump in stages, fastest first, so the first screen shows
// as soon as the dump is identified. The TUI calls Identify, Log and
// Analyse once each, in that order, inside tea.Cmds — never from Update —
// and Close after the program ends.
type Source interface {
	Name() string // short name for the tab bar
	Path() string
	Identify() (*analysis.Identity, error)
	Log() ([]printk.Line, error)
	Analyse() (*analysis.Report, error)
	Close() error
}

// Load stages as the status line names them.
const (
	stageOpen    = "opening the dump"
	stageLog     = "reading the kernel log"
	stageAnalyse = "reading symbols, types and kernel objects"
)

// Messages carrying each stage's result to Update.
type (
	identifiedMsg struct {
		id  *analysis.Identity
		err error
	}
	logMsg struct {
		lines []printk.Line
		err   error
	}
	analysedMsg struct {
		r   *analysis.Report
		err error
	}
)

func identifyCmd(src Source) tea.Cmd {
	return func() tea.Msg {
		id, err := src.Identify()
		return identifiedMsg{id, err}
	}
}

func logCmd(src Source) tea.Cmd {
	return func() tea.Msg {
		lines, err := src.Log()
		return logMsg{lines, err}
	}
}

func analyseCmd(src Source) tea.Cmd {
	return func() tea.Msg {
		r, err := src.Analyse()
		return analysedMsg{r, err}
	}
}

// DumpSource reads a dump file. Its methods may be called from the
// program's command goroutines; a mutex orders them against Close.
type DumpSource struct {
	path string
	opt  target.Options

	mu     sync.Mutex
	tgt    *target.Target
	closed bool
}

// NewDumpSource prepares to read the dump at path; nothing is opened yet.
func NewDumpSource(path string, opt target.Options) *DumpSource {
	return &DumpSource{path: path, opt: opt}
}

var errClosed = errors.New("dump closed")

// Name is the dump's folder and file name, "kdump-6.1-lzo/vmcore".
func (s *DumpSource) Name() string {
	return filepath.Join(filepath.Base(filepath.Dir(s.path)), filepath.Base(s.path))
}

// Path is the dump's path as given.
func (s *DumpSource) Path() string { return s.path }

// Identify opens the dump and reads what `panicscope info` shows.
func (s *DumpSource) Identify() (*analysis.Identity, error) {
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
func (s *DumpSource) Log() ([]printk.Line, error) {
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
func (s *DumpSource) Analyse() (*analysis.Report, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.tgt == nil {
		return nil, errClosed
	}
	return analysis.Build(s.tgt), nil
}

// Close closes the dump, waiting for a stage still running.
func (s *DumpSource) Close() error {
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
