package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/panicscope/panicscope/internal/testfixtures"
)

// TestTrimSIGINTRemovesTemp interrupts "panicscope trim" once its
// temporary output exists: nothing may be left in the output directory.
func TestTrimSIGINTRemovesTemp(t *testing.T) {
	fx := testfixtures.Get(t, "kdump-6.1-lzo")
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$", "--", "trim", filepath.Join(fx.Dir, "vmcore"), filepath.Join(dir, "out"))
	cmd.Env = append(os.Environ(), benchMainEnv+"=1")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	deadline := time.After(60 * time.Second)
poll:
	for {
		select {
		case err := <-done:
			t.Skipf("trim finished (%v) before its temporary file was seen", err)
		case <-deadline:
			_ = cmd.Process.Kill()
			t.Fatal("no temporary file within 60s")
		case <-time.After(2 * time.Millisecond):
			if ents, _ := os.ReadDir(dir); len(ents) > 0 {
				break poll
			}
		}
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	err := <-done
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if e.Name() == "out" && err == nil {
			continue // it had finished writing: a complete copy
		}
		t.Errorf("left behind after SIGINT (exit %v): %s", err, e.Name())
	}
}
