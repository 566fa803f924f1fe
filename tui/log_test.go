package tui

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// markedLine is the screen line that carries the › mark.
func markedLine(t *testing.T, m Model) string {
	t.Helper()
	for _, l := range strings.Split(screen(m), "\n") {
		if strings.HasPrefix(l, "› ") {
			return l
		}
	}
	t.Fatalf("no marked line:\n%s", screen(m))
	return ""
}

var statusPos = regexp.MustCompile(`line (\d+)/(\d+)\s*$`)

// markAgrees checks that the status line names the marked line.
func markAgrees(t *testing.T, m Model) {
	t.Helper()
	lp := logOf(m)
	lines := strings.Split(screen(m), "\n")
	status := lines[len(lines)-2]
	got := statusPos.FindStringSubmatch(status)
	if got == nil {
		t.Fatalf("no position on the status line %q", status)
	}
	if want := fmt.Sprint(lp.s.Mark + 1); got[1] != want {
		t.Errorf("status line says line %s, the › is on line %s:\n%s", got[1], want, screen(m))
	}
}

// TestSearchFromCursor: with the mark on the panic line (which holds
// "labpanic"), /labpanic goes to the next hit below it, not the first in
// the log; the status line follows the mark.
func TestSearchFromCursor(t *testing.T) {
	m, _ := loaded(t, "kdump-6.1-lzo", Options{})
	m = press(m, "5")
	mustContain(t, markedLine(t, m), "Kernel panic - not syncing: labpanic")
	markAgrees(t, m)
	m = press(m, "/", "labpanic", "enter")
	mustContain(t, markedLine(t, m), "labpanic_do_panic+0x18/0x18 [labpanic]")
	mustContain(t, screen(m), "/labpanic 5 of 7")
	markAgrees(t, m)
	m = press(m, "N")
	mustContain(t, markedLine(t, m), "Kernel panic - not syncing: labpanic")
	markAgrees(t, m)
}

// TestSearchBack: N from the 11th hit goes to the 10th, n back to the 11th.
func TestSearchBack(t *testing.T) {
	m, _ := loaded(t, "kdump-6.1-lzo", Options{})
	m = press(m, "5", "g", "/", "[", "enter")
	mustContain(t, screen(m), "/[ 1 of 96")
	for range 10 {
		m = press(m, "n")
	}
	mustContain(t, screen(m), "/[ 11 of 96")
	markAgrees(t, m)
	m = press(m, "N")
	mustContain(t, screen(m), "/[ 10 of 96")
	markAgrees(t, m)
	if got := logOf(m).s.Mark; got != 9 {
		t.Errorf("N from hit 11: mark on entry %d, want 9", got)
	}
	m = press(m, "n")
	mustContain(t, screen(m), "/[ 11 of 96")
}

// TestSearchTimestamp: a timestamp on the screen can be searched for.
func TestSearchTimestamp(t *testing.T) {
	m, _ := loaded(t, "kdump-6.1-lzo", Options{})
	m = press(m, "5")
	mustContain(t, screen(m), "[    4.123494]")
	m = press(m, "/", "4.123494", "enter")
	mustContain(t, screen(m), "/4.123494 1 of 1")
	mustContain(t, markedLine(t, m), "labpanic_do_panic+0x18/0x18")
	if strings.Contains(screen(m), "no line holds") {
		t.Errorf("timestamp not found:\n%s", screen(m))
	}
}

// TestHorizontalScroll: the header names the column, in words the user
// knows.
func TestHorizontalScroll(t *testing.T) {
	m, _ := loaded(t, "kdump-6.1-lzo", Options{})
	m = press(m, "5", "w", "right", "right", "right")
	head := strings.Split(screen(m), "\n")[1]
	mustContain(t, head, "column 49")
	if strings.Contains(screen(m), "tableColumn") {
		t.Errorf("internal name on screen: %q", head)
	}
}
