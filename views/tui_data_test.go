package views

import (
	"fmt"
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"
)

// TestSearchLogTimestamp: a timestamp as printed is found, and the hit is
// highlighted inside the timestamp without losing the rest of it.
func TestSearchLogTimestamp(t *testing.T) {
	d := loadData(t, "kdump-6.1-lzo")
	vis := FilterLog(d.Log, 7)
	got := SearchLog(d.Log, vis, "4.123494")
	if len(got) != 1 || !strings.Contains(d.Log[vis[got[0]]].Text, "labpanic_do_panic") {
		t.Fatalf("timestamp search: %v", got)
	}
	full, spans := logText(d.Log[vis[got[0]]], "4.123494")
	var hit, ts string
	for _, s := range spans {
		if s.hit {
			hit += full[s.from:s.to]
		} else {
			ts += full[s.from:s.to]
		}
		if s.from >= s.to {
			t.Errorf("empty span %+v", s)
		}
	}
	if hit != "4.123494" || ts != "[    ]" {
		t.Errorf("hit %q, timestamp around it %q", hit, ts)
	}
	for i := 1; i < len(spans); i++ {
		if spans[i].from < spans[i-1].to {
			t.Errorf("spans overlap or are out of order: %+v", spans)
		}
	}
}

// TestPanicIndex: the analysis' panic record first, else the log's last
// panic line, else -1.
func TestPanicIndex(t *testing.T) {
	d := loadData(t, "kdump-6.1-lzo")
	i := PanicIndex(d)
	if i < 0 || !strings.Contains(d.Log[i].Text, "Kernel panic - not syncing") {
		t.Fatalf("PanicIndex %d", i)
	}
	d.Report = nil
	if PanicIndex(d) != i {
		t.Errorf("without the analysis: %d, want %d", PanicIndex(d), i)
	}
	d.Log = d.Log[:i]
	if got := PanicIndex(d); got != -1 {
		t.Errorf("no panic line: %d", got)
	}
}

// TestBacktrace: every frame of the CPU, numbered, at any width; a CPU
// with no frames says so.
func TestBacktrace(t *testing.T) {
	d := loadData(t, "kdump-6.1-lzo")
	st := PlainStyles(UnicodeGlyphs())
	for _, w := range []int{30, 80} {
		for i, c := range d.Report.CPUs {
			lines := Backtrace(d, i, w, st)
			text := ansi.Strip(strings.Join(lines, "\n"))
			if !strings.HasPrefix(text, fmt.Sprintf("CPU %d", c.CPU)) {
				t.Errorf("w=%d cpu %d: heading %q", w, c.CPU, lines[0])
			}
			joined := strings.ReplaceAll(text, "\n", "")
			for n, f := range c.Stack {
				if !strings.Contains(text, fmt.Sprintf("#%d ", n)) || !strings.Contains(strings.ReplaceAll(joined, " ", ""), strings.ReplaceAll(f, " ", "")) {
					t.Errorf("w=%d cpu %d: frame #%d %q missing:\n%s", w, c.CPU, n, f, text)
				}
			}
			for _, l := range lines {
				if ansi.StringWidth(l) > w {
					t.Errorf("w=%d: line too wide %q", w, l)
				}
			}
		}
	}
	d.Report.CPUs[1].Stack = nil
	mustHave(t, strings.Join(Backtrace(d, 1, 80, st), "\n"), "no stack frames were read")
	mustHave(t, strings.Join(Backtrace(d, 5, 80, st), "\n"), "no CPU states")
	if PanickingCPU(d) != 1 {
		t.Errorf("panicking CPU %d", PanickingCPU(d))
	}
}

// TestPstoreText: the records' text under their headings, wrapped; a
// record without text says why.
func TestPstoreText(t *testing.T) {
	d := loadData(t, "qemu-6.1-lp-oops-pstore")
	st := PlainStyles(UnicodeGlyphs())
	if !PstoreHasText(d) {
		t.Fatal("fixture records have no text")
	}
	text := strings.Join(PstoreText(d, 60, st), "\n")
	mustHave(t, text, "zone 0 dmesg Oops#1 Part1", "zone 1 dmesg Panic#2 Part1", "Kernel panic - not syncing")
	for _, l := range strings.Split(text, "\n") {
		if ansi.StringWidth(l) > 60 {
			t.Errorf("line too wide: %q", l)
		}
	}
	d.Report.Pstore.Records[0].Text = ""
	mustHave(t, strings.Join(PstoreText(d, 60, st), "\n"), "compressed and its text could not be read")
	d.Report.Pstore.Records[1].Text = ""
	if PstoreHasText(d) {
		t.Error("PstoreHasText with no text")
	}
}

// TestPrintable: text from the dump cannot drive the terminal.
func TestPrintable(t *testing.T) {
	for in, want := range map[string]string{
		"plain text":            "plain text",
		"a\x1b[2Jb":             `a\x1b[2Jb`,
		"tab\there":             `tab\there`,
		"bell\a\x9bcsi\xff end": `bell\x07\x9bcsi\xff end`,
		"ünïcode ✓":             "ünïcode ✓",
	} {
		if got := Printable(in); got != want {
			t.Errorf("Printable(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestTUIData: the helpers the TUI reads the data through.
func TestTUIData(t *testing.T) {
	d := loadData(t, "kdump-6.1-lzo")
	if RunningStep(d) < 0 || StepCount(d) != len(d.Report.Timeline) {
		t.Errorf("running step %d of %d", RunningStep(d), StepCount(d))
	}
	d.LogErr = "log unreadable"
	if p := ProblemLines(d); len(p) != len(d.Report.Problems)+1 || p[len(p)-1] != "log unreadable" {
		t.Errorf("problems %q", p)
	}
	d.Report = nil
	if RunningStep(d) != -1 || StepCount(d) != 0 || PanickingCPU(d) != -1 {
		t.Error("data before the analysis")
	}
	st := PlainStyles(ASCIIGlyphs())
	bar := Tabs([]string{"One", "Two"}, 1, 80, "", st)
	if !strings.Contains(bar, "1 One") || !strings.Contains(bar, "[2 Two]") {
		t.Errorf("tabs %q", bar)
	}
}

func mustHave(t *testing.T, s string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(s, w) {
			t.Errorf("lacks %q:\n%s", w, s)
		}
	}
}

// TestLogEscapes: a log line holding an escape sequence is drawn with it
// neutralised, and is still found by its text.
func TestLogEscapes(t *testing.T) {
	d := loadData(t, "kdump-6.1-lzo")
	d.Log = append(d.Log[:0:0], d.Log[:3]...)
	d.Log[1].Text = "evil \x1b]2;owned\a\x1b[2J text"
	s := LogState{MaxLevel: 7, Wrap: true, Mark: -1}
	s.Visible = FilterLog(d.Log, 7)
	s.Query = "text"
	s.Matches = SearchLog(d.Log, s.Visible, s.Query)
	out := Log(d, s, 80, 10, PlainStyles(UnicodeGlyphs()))
	if strings.Contains(out, "\x1b]") || strings.Contains(out, "\x1b[2J") || strings.Contains(out, "\a") {
		t.Errorf("escape sequence from the log reached the screen: %q", out)
	}
	mustHave(t, ansi.Strip(out), `evil \x1b]2;owned\x07\x1b[2J text`)
	if len(s.Matches) != 1 || s.Matches[0] != 1 {
		t.Errorf("matches %v", s.Matches)
	}
}
