package tui

import (
	"fmt"

	"charm.land/bubbles/v2/key"
)

// KeyMap is the keys that work on every page, and the moves the pages
// share; a page's own keys are in its file.
type KeyMap struct {
	Pages    key.Binding // 1..number of pages
	NextPage key.Binding
	PrevPage key.Binding
	Mouse    key.Binding
	Command  key.Binding
	Cancel   key.Binding
	Help     key.Binding
	Quit     key.Binding

	Up       key.Binding
	Down     key.Binding
	PageUp   key.Binding
	PageDown key.Binding
	Top      key.Binding
	Bottom   key.Binding
	Left     key.Binding
	Right    key.Binding
	Open     key.Binding // enter, on the pages that open something
}

// DefaultKeyMap is the default set of bindings for n pages; ascii spells
// the arrows out for terminals without them.
func DefaultKeyMap(n int, ascii bool) KeyMap {
	b := func(keys []string, help, desc string) key.Binding {
		return key.NewBinding(key.WithKeys(keys...), key.WithHelp(help, desc))
	}
	digits := make([]string, 0, n)
	for i := 1; i <= min(n, 9); i++ {
		digits = append(digits, fmt.Sprint(i))
	}
	up, down, left, right := "↑", "↓", "←", "→"
	if ascii {
		up, down, left, right = "up", "down", "left", "right"
	}
	return KeyMap{
		Pages:    b(digits, fmt.Sprintf("1-%d", len(digits)), "page"),
		NextPage: b([]string{"tab"}, "tab", "next page"),
		PrevPage: b([]string{"shift+tab"}, "shift+tab", "previous page"),
		Mouse:    b([]string{"m"}, "m", "mouse wheel on/off"),
		Command:  commandKey(),
		Cancel:   b([]string{"esc"}, "esc", "clear / close"),
		Help:     b([]string{"?"}, "?", "help"),
		Quit:     b([]string{"q", "ctrl+c"}, "q", "quit"),

		Up:       b([]string{"up", "k"}, up+"/k", "up"),
		Down:     b([]string{"down", "j"}, down+"/j", "down"),
		PageUp:   b([]string{"pgup", "b"}, "pgup/b", "page up"),
		PageDown: b([]string{"pgdown", "space", "f"}, "pgdn/space", "page down"),
		Top:      b([]string{"g", "home"}, "g/home", "top"),
		Bottom:   b([]string{"G", "end"}, "G/end", "bottom"),
		Left:     b([]string{"left", "h"}, left+"/h", "scroll left"),
		Right:    b([]string{"right"}, right, "scroll right"),
		Open:     b([]string{"enter"}, "enter", "open"),
	}
}

// global is the help for the keys every page has.
func (k KeyMap) global() []key.Binding {
	return []key.Binding{k.Pages, k.NextPage, k.PrevPage, k.Command, k.Mouse, k.Help, k.Cancel, k.Quit}
}

// moves is the help for the moves the pages share.
func (k KeyMap) moves() []key.Binding {
	return []key.Binding{k.Up, k.Down, k.PageUp, k.PageDown, k.Top, k.Bottom}
}

// withDesc is b with another description in the help.
func withDesc(b key.Binding, desc string) key.Binding {
	b.SetHelp(b.Help().Key, desc)
	return b
}

// barHelp is the help bar: the page's (or pane's) keys between the page
// switch and help/quit.
type barHelp struct {
	k    KeyMap
	page interface{ ShortHelp() []key.Binding }
}

// ShortHelp implements help.KeyMap.
func (h barHelp) ShortHelp() []key.Binding {
	out := []key.Binding{h.k.Pages}
	out = append(out, h.page.ShortHelp()...)
	return append(out, h.k.Help, h.k.Quit)
}

// FullHelp implements help.KeyMap; the help page draws its own.
func (h barHelp) FullHelp() [][]key.Binding { return nil }
