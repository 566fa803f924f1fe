package views

import (
	"strings"
	"testing"
)

func TestWrapKeepsSpacing(t *testing.T) {
	got := wrapPlain("[    4.004411] Kernel panic - not syncing: a long message here", 30)
	want := []string{"[    4.004411] Kernel panic -", "not syncing: a long message", "here"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("wrap = %q, want %q", got, want)
	}
	if got := wrapPlain(strings.Repeat("x", 25), 10); len(got) != 3 || got[2] != "xxxxx" {
		t.Fatalf("long word: %q", got)
	}
}
