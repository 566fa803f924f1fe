package tui

import (
	"strings"
	"testing"
)

// TestHostileStrings: strings from the dump that hold escape sequences (a
// task name writing the clipboard through OSC 52, a symbol setting the
// title) reach the screen neutralised on every page, and what matched
// before still matches.
func TestHostileStrings(t *testing.T) {
	src := loadFake(t, "kdump-6.1-lzo")
	const evil = "sh\x1b]52;c;cm0gLXJmIH4=\a"
	comm := evil
	src.r.CPUs[1].TaskComm = &comm
	src.r.CPUs[1].Stack[0] = "\x1b]2;owned\a" + src.r.CPUs[1].Stack[0]
	if len(src.r.CPUs[1].Regs) > 0 {
		src.r.CPUs[1].Regs[0].Value = "\x1b[31m" + src.r.CPUs[1].Regs[0].Value
	}
	rel := "6.1\x1b[2J"
	src.r.Identity.Release = &rel
	src.name = "dump\x1b]0;x\a"
	m := New(src, Options{NoColor: true})
	m = drive(m, m.Init())
	for _, keys := range [][]string{{"1"}, {"2", "e"}, {"3"}, {"4"}, {"5"}, {"6"}, {"6", "enter"}} {
		m = press(m, keys...)
		raw := m.View().Content
		for _, bad := range []string{"\x1b]", "\a", "\x1b[2J", "\x1b[31m"} {
			if strings.Contains(raw, bad) {
				t.Errorf("page %v: %q reached the screen", keys, bad)
			}
		}
		if m.View().WindowTitle != `panicscope dump\x1b]0;x\x07` {
			t.Errorf("window title %q", m.View().WindowTitle)
		}
		m = press(m, "esc")
	}
	m = press(m, "6")
	mustContain(t, screen(m), `task sh\x1b]52;c;cm0gLXJmIH4=\x07 (pid`)
	m = press(m, "enter")
	mustContain(t, screen(m), `#0 \x1b]2;owned\x07__crash_kexec`)
}

// TestMakePrintable: strings in nested structs, slices, maps (keys and
// values) and behind pointers are cleaned; newlines stay; unexported
// fields and cycles are left alone.
func TestMakePrintable(t *testing.T) {
	type node struct {
		Name   string
		Text   string
		Tags   []string
		Regs   map[string]string
		Next   *node
		secret string
	}
	n := &node{
		Name: "a\x1bb", Text: "one\x07\ntwo", Tags: []string{"\x9b1m"},
		Regs: map[string]string{"r\x1b": "v\x1b"}, secret: "\x1b",
	}
	n.Next = n // a cycle
	makePrintable(n)
	if n.Name != `a\x1bb` || n.Text != "one\\x07\ntwo" || n.Tags[0] != `\x9b1m` || n.secret != "\x1b" {
		t.Errorf("%q %q %q %q", n.Name, n.Text, n.Tags, n.secret)
	}
	if v, ok := n.Regs[`r\x1b`]; !ok || v != `v\x1b` || len(n.Regs) != 1 {
		t.Errorf("map %q", n.Regs)
	}
}
