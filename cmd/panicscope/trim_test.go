package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTrimCommand trims the embedded demo dump (already trimmed: every
// page is kept again) and reports on the copy.
func TestTrimCommand(t *testing.T) {
	src, cleanup, err := demoDump()
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	out := filepath.Join(t.TempDir(), "copy")
	var stdout, stderr bytes.Buffer
	if err := run([]string{"trim", src, out}, &stdout, &stderr); err != nil {
		t.Fatalf("trim: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stdout.String(), "kept ") || !strings.Contains(stdout.String(), "panic: Fatal exception") {
		t.Errorf("trim output:\n%s", stdout.String())
	}
	a, b := new(bytes.Buffer), new(bytes.Buffer)
	if err := run([]string{"report", src}, a, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if err := run([]string{"report", out}, b, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if a.String() != b.String() {
		t.Errorf("the copy of an already trimmed dump reports differently")
	}
	if st, err := os.Stat(out); err != nil || st.Size() == 0 {
		t.Fatalf("output: %v", err)
	}
	if err := run([]string{"trim", src}, &bytes.Buffer{}, &bytes.Buffer{}); err == nil {
		t.Error("trim without OUT accepted")
	}
}
