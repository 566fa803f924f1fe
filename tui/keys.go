package tui

import "charm.land/bubbles/v2/key"

// KeyMap is every key binding of the TUI.
type KeyMap struct {
	Pages    key.Binding // 1-6
	NextPage key.Binding
	PrevPage key.Binding

	Up       key.Binding
	Down     key.Binding
	PageUp   key.Binding
	PageDown key.Binding
	Top      key.Binding
	Bottom   key.Binding
	Left     key.Binding
	Right    key.Binding

	Expand    key.Binding // Timeline: expand a step, or follow a row to its log line
	ExpandAll key.Binding
	JumpLog   key.Binding

	Search    key.Binding
	NextMatch key.Binding
	PrevMatch key.Binding
	Level     key.Binding
	Panic     key.Binding
	Wrap      key.Binding

	Cancel key.Binding
	Help   key.Binding
	Quit   key.Binding
}

// DefaultKeyMap is the default set of bindings.
func DefaultKeyMap() KeyMap {
	b := func(keys []string, help, desc string) key.Binding {
		return key.NewBinding(key.WithKeys(keys...), key.WithHelp(help, desc))
	}
	return KeyMap{
		Pages:    b([]string{"1", "2", "3", "4", "5", "6"}, "1-6", "page"),
		NextPage: b([]string{"tab"}, "tab", "next page"),
		PrevPage: b([]string{"shift+tab"}, "shift+tab", "previous page"),

		Up:       b([]string{"up", "k"}, "↑/k", "up"),
		Down:     b([]string{"down", "j"}, "↓/j", "down"),
		PageUp:   b([]string{"pgup", "b"}, "pgup/b", "page up"),
		PageDown: b([]string{"pgdown", "space", "f"}, "pgdn/space", "page down"),
		Top:      b([]string{"g", "home"}, "g/home", "top"),
		Bottom:   b([]string{"G", "end"}, "G/end", "bottom"),
		Left:     b([]string{"left", "h"}, "←/h", "scroll left"),
		Right:    b([]string{"right"}, "→", "scroll right"),

		Expand:    b([]string{"enter"}, "enter", "expand / jump"),
		ExpandAll: b([]string{"e"}, "e", "expand all"),
		JumpLog:   b([]string{"l"}, "l", "log line"),

		Search:    b([]string{"/"}, "/", "search"),
		NextMatch: b([]string{"n"}, "n/N", "next/prev match"),
		PrevMatch: b([]string{"N"}, "N", "previous match"),
		Level:     b([]string{"L"}, "L", "level filter"),
		Panic:     b([]string{"p"}, "p", "panic message"),
		Wrap:      b([]string{"w"}, "w", "wrap lines"),

		Cancel: b([]string{"esc"}, "esc", "clear / close"),
		Help:   b([]string{"?"}, "?", "help"),
		Quit:   b([]string{"q", "ctrl+c"}, "q", "quit"),
	}
}

// asciiHelp replaces the arrows in the help texts for ASCII terminals.
func (k KeyMap) asciiHelp() KeyMap {
	set := func(b *key.Binding, help string) { b.SetHelp(help, b.Help().Desc) }
	set(&k.Up, "up/k")
	set(&k.Down, "down/j")
	set(&k.Left, "left/h")
	set(&k.Right, "right")
	return k
}

// pageHelp is the help for one page: the short help shows that page's keys.
type pageHelp struct {
	k    KeyMap
	page int
}

// ShortHelp implements help.KeyMap.
func (h pageHelp) ShortHelp() []key.Binding {
	k := h.k
	switch h.page {
	case pageTimeline:
		return []key.Binding{k.Pages, k.Up, k.Down, k.Expand, k.JumpLog, k.Help, k.Quit}
	case pageLog:
		return []key.Binding{k.Pages, k.Search, k.NextMatch, k.Level, k.Panic, k.Wrap, k.Help, k.Quit}
	}
	return []key.Binding{k.Pages, k.NextPage, k.Up, k.Down, k.Help, k.Quit}
}

// FullHelp implements help.KeyMap.
func (h pageHelp) FullHelp() [][]key.Binding {
	k := h.k
	return [][]key.Binding{
		{k.Pages, k.NextPage, k.PrevPage, k.Help, k.Cancel, k.Quit},
		{k.Up, k.Down, k.PageUp, k.PageDown, k.Top, k.Bottom},
		{k.Expand, k.ExpandAll, k.JumpLog},
		{k.Search, k.NextMatch, k.Level, k.Panic, k.Wrap, k.Left, k.Right},
	}
}
