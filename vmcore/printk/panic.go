package printk

import "strings"

// PanicLineKind says which of panic()'s two lines that carry the message a
// text is.
type PanicLineKind int

const (
	NotPanicLine PanicLineKind = iota
	// PanicMessageLine is pr_emerg("Kernel panic - not syncing: %s\n")
	// at the start of panic() (kernel/panic.c).
	PanicMessageLine
	// PanicEndLine is pr_emerg("---[ end Kernel panic - not syncing: %s ]---\n")
	// just before panic()'s final loop: the message again, at the end.
	PanicEndLine
)

const (
	panicPrefix = "Kernel panic - not syncing: "
	endPrefix   = "---[ end Kernel panic - not syncing: "
	endSuffix   = " ]---"
)

// ParsePanicLine is the one place that recognises panic()'s lines: it says
// whether text (a record's text, or a printed line) is the panic message
// line or the closing end line, and returns the message without prefix,
// suffix and trailing newline.
func ParsePanicLine(text string) (msg string, kind PanicLineKind) {
	t := strings.TrimLeft(text, " \t")
	if m, ok := strings.CutPrefix(t, panicPrefix); ok {
		return strings.TrimRight(m, "\n"), PanicMessageLine
	}
	if m, ok := strings.CutPrefix(strings.TrimRight(t, "\n"), endPrefix); ok {
		return strings.TrimSuffix(m, endSuffix), PanicEndLine
	}
	return "", NotPanicLine
}

// Panic is panic()'s message as the log holds it.
type Panic struct {
	Message     string
	Seq         uint64 // the record it was read from
	TimestampNS uint64
	// From says which line that record is: the message line, or the end
	// line when the message line was lost (overwritten, unreadable page).
	From PanicLineKind
}

// findPanic picks the panic among n records whose texts text(i) gives: the
// last message line, else the last end line. Every finder uses it, so the
// log page, the report and the timeline name the same record.
func findPanic(n int, text func(int) string) (idx int, msg string, kind PanicLineKind) {
	end, endMsg := -1, ""
	for i := n - 1; i >= 0; i-- {
		m, k := ParsePanicLine(text(i))
		switch {
		case k == PanicMessageLine:
			return i, m, k
		case k == PanicEndLine && end < 0:
			end, endMsg = i, m
		}
	}
	if end >= 0 {
		return end, endMsg, PanicEndLine
	}
	return -1, "", NotPanicLine
}

// Panic finds panic()'s message: from the last "Kernel panic - not
// syncing: MSG" record, or, when that record was lost but the closing
// "---[ end Kernel panic - not syncing: MSG ]---" survives, from it.
func (l *Log) Panic() (Panic, bool) {
	i, msg, kind := l.findPanic()
	if i < 0 {
		return Panic{}, false
	}
	r := &l.Records[i]
	return Panic{Message: msg, Seq: r.Seq, TimestampNS: r.TimestampNS, From: kind}, true
}

// PanicMessage is Panic with the whole record.
func (l *Log) PanicMessage() (rec Record, msg string, ok bool) {
	i, msg, _ := l.findPanic()
	if i < 0 {
		return Record{}, "", false
	}
	return l.Records[i], msg, true
}

func (l *Log) findPanic() (int, string, PanicLineKind) {
	if l == nil {
		return -1, "", NotPanicLine
	}
	return findPanic(len(l.Records), func(i int) string { return l.Records[i].Text })
}

// PanicInLines is Panic over printed lines (Log.Lines): index is the first
// line of the panic's record. A record split over several lines is joined
// back, so the message is the same as Panic's.
func PanicInLines(lines []Line) (index int, p Panic, ok bool) {
	var starts []int
	for i, l := range lines {
		if i == 0 || !l.IsContinuation || l.Seq != lines[i-1].Seq {
			starts = append(starts, i)
		}
	}
	text := func(k int) string {
		first, last := starts[k], len(lines)
		if k+1 < len(starts) {
			last = starts[k+1]
		}
		if last-first == 1 {
			return lines[first].Text
		}
		parts := make([]string, 0, last-first)
		for _, l := range lines[first:last] {
			parts = append(parts, l.Text)
		}
		return strings.Join(parts, "\n")
	}
	k, msg, kind := findPanic(len(starts), text)
	if k < 0 {
		return -1, Panic{}, false
	}
	l := lines[starts[k]]
	return starts[k], Panic{Message: msg, Seq: l.Seq, TimestampNS: l.TS, From: kind}, true
}
