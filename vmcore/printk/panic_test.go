package printk

import "testing"

func TestParsePanicLine(t *testing.T) {
	for _, c := range []struct {
		text string
		msg  string
		kind PanicLineKind
	}{
		{"Kernel panic - not syncing: boom\n", "boom", PanicMessageLine},
		{"  Kernel panic - not syncing: Fatal exception", "Fatal exception", PanicMessageLine},
		{"---[ end Kernel panic - not syncing: boom ]---\n", "boom", PanicEndLine},
		{"---[ end Kernel panic - not syncing: boom", "boom", PanicEndLine},
		{"labpanic: notifier saw panic: Kernel panic - not syncing: boom", "", NotPanicLine},
		{"", "", NotPanicLine},
	} {
		msg, kind := ParsePanicLine(c.text)
		if msg != c.msg || kind != c.kind {
			t.Errorf("ParsePanicLine(%q) = %q %v, want %q %v", c.text, msg, kind, c.msg, c.kind)
		}
	}
}

// TestPanicOnlyEndLine is the dump where the message record was lost and
// only the closing line survives: records and printed lines give the same
// message and the same record.
func TestPanicOnlyEndLine(t *testing.T) {
	l := &Log{Records: []Record{
		{Seq: 7, TimestampNS: 1e9, Text: "Kernel Offset: disabled"},
		{Seq: 8, TimestampNS: 2e9, Text: "---[ end Kernel panic - not syncing: boom ]---"},
	}}
	p, ok := l.Panic()
	if !ok || p.Message != "boom" || p.Seq != 8 || p.TimestampNS != 2e9 || p.From != PanicEndLine {
		t.Fatalf("Panic = %+v %v", p, ok)
	}
	i, lp, ok := PanicInLines(l.Lines())
	if !ok || i != 1 || lp != p {
		t.Errorf("PanicInLines = %d %+v %v, want 1 %+v", i, lp, ok, p)
	}
}

// TestPanicInLinesMultiLine: a message holding '\n' is printed over several
// lines; the lines give the whole message, as the record does.
func TestPanicInLinesMultiLine(t *testing.T) {
	l := &Log{Records: []Record{
		{Seq: 1, Text: "hello"},
		{Seq: 2, Text: "Kernel panic - not syncing: first\nsecond"},
		{Seq: 3, Text: "after"},
	}}
	p, _ := l.Panic()
	i, lp, ok := PanicInLines(l.Lines())
	if !ok || i != 1 || lp.Message != "first\nsecond" || lp != p {
		t.Errorf("PanicInLines = %d %+v %v; Panic = %+v", i, lp, ok, p)
	}
	if i, _, ok := PanicInLines(nil); ok || i != -1 {
		t.Errorf("no lines: %d %v", i, ok)
	}
}
