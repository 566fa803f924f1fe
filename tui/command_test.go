package tui

import (
	"strings"
	"testing"
)

// TestCommandLine: ":" opens a prompt on the status line; enter runs the
// command through the source and shows its output in a pane over the
// page, which scrolls sideways and closes with esc; up recalls the last
// line; an error is shown in the pane.
func TestCommandLine(t *testing.T) {
	m, src := loaded(t, "kdump-6.1-lzo", Options{})
	m = press(m, "5", ":", "echo")
	mustContain(t, screen(m), ":echo")
	m = press(m, " ", "alpha", " ", "beta", "enter")
	mustContain(t, screen(m), ":echo alpha beta · esc closes", "alpha", "beta", "[5 Log]")
	if got := src.calls[len(src.calls)-1]; got != "command echo alpha beta" {
		t.Errorf("source ran %q", got)
	}
	if !strings.Contains(screen(m), "…") {
		t.Errorf("a line wider than the screen is not cut:\n%s", screen(m))
	}
	m = press(m, "right")
	mustContain(t, screen(m), "column 17")
	m = press(m, "esc")
	if strings.Contains(screen(m), "esc closes") {
		t.Fatalf("esc did not close the output:\n%s", screen(m))
	}
	mustContain(t, screen(m), "Kernel log")
	m = press(m, ":", "up")
	mustContain(t, screen(m), ":echo alpha beta")
	m = press(m, "ctrl+u", "frob", "enter")
	mustContain(t, screen(m), `"frob" is not a command here`)
	m = press(m, "3")
	if strings.Contains(screen(m), "esc closes") {
		t.Error("a page key left the output open")
	}
	m = press(m, ":", "esc")
	mustContain(t, screen(m), "[3 Chains]")

	// A source that runs no commands says so.
	plain := New(struct{ Source }{loadFake(t, "kdump-6.1-lzo")}, Options{})
	plain = press(plain, ":")
	mustContain(t, screen(plain), "this view runs no commands")
}
