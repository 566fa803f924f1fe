package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/panicscope/panicscope/internal/testfixtures"
	"github.com/panicscope/panicscope/vmcore/target"
)

// TestTUINotADump: a text file given as DUMP is an error at once, before
// the TUI takes the screen (it used to show only after q).
func TestTUINotADump(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notes.txt")
	if err := os.WriteFile(path, []byte("not a crash dump\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- openTUI(path, tuiFlags{}) }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "not a recognised crash dump") {
			t.Fatalf("want the open error, got %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the TUI started on a text file")
	}
}

// TestDumpSourceStages: the stages on a real dump, then Close; a stage
// after Close is an error, not a read of a closed file.
func TestDumpSourceStages(t *testing.T) {
	path := filepath.Join(testfixtures.Dir(t), "kdump-6.1-lzo", "vmcore")
	src := newDumpSource(path, target.Options{})
	if src.Name() != "kdump-6.1-lzo/vmcore" {
		t.Errorf("name %q", src.Name())
	}
	id, err := src.Identify()
	if err != nil || id.Release == nil || !strings.Contains(*id.Release, "6.1.0") {
		t.Fatalf("identify: %v %+v", err, id)
	}
	lines, err := src.Log()
	if err != nil || len(lines) == 0 {
		t.Fatalf("log: %d lines, %v", len(lines), err)
	}
	r, err := src.Analyse()
	if err != nil || len(r.Timeline) == 0 {
		t.Fatalf("analyse: %v", err)
	}
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := src.Log(); err == nil {
		t.Error("log after close")
	}
}

// TestDumpSourceCommand: the TUI's command line runs the dump-reading
// commands on the open dump's path with its options, and refuses the rest.
func TestDumpSourceCommand(t *testing.T) {
	path := filepath.Join(testfixtures.Dir(t), "kdump-6.1-lzo", "vmcore")
	src := newDumpSource(path, target.Options{})
	defer src.Close()
	out, err := src.Command("ps", 80)
	if err != nil || !strings.Contains(out, "PID") || !strings.Contains(out, " sh") {
		t.Fatalf("ps: %v\n%s", err, out)
	}
	out, err = src.Command("bt --cpu 1", 80)
	if err != nil || !strings.Contains(out, "panic+0x") {
		t.Fatalf("bt --cpu 1: %v\n%s", err, out)
	}
	out, err = src.Command("dis panic", 80)
	if err != nil || !strings.Contains(out, "panic") {
		t.Fatalf("dis panic: %v\n%s", err, out)
	}
	for _, line := range []string{"trim /tmp/x", "demo", "nosuch", ""} {
		if _, err := src.Command(line, 80); err == nil {
			t.Errorf("%q accepted", line)
		}
	}
	if _, err := src.Command("bt --frobnicate", 80); err == nil || !strings.Contains(err.Error(), "--help") {
		t.Errorf("a bad flag: %v", err)
	}
}
