package views

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"

	"github.com/panicscope/panicscope/internal/testfixtures"
	"github.com/panicscope/panicscope/vmcore/analysis"
	"github.com/panicscope/panicscope/vmcore/printk"
	"github.com/panicscope/panicscope/vmcore/target"
)

// pageFixtures are the dumps whose reports and log excerpts are stored in
// testdata, so the page tests run without ../shared: one kdump capture, one
// QEMU capture with pstore records.
var pageFixtures = []string{"kdump-6.1-lzo", "qemu-6.1-lp-oops-pstore"}

// envRegen rewrites testdata/<fixture>.{report,log}.json from the real dumps.
const envRegen = "PANICSCOPE_REGEN_TESTDATA"

// updating is the package's -update flag (registered by report_golden_test.go;
// a flag can only be defined once per test binary).
func updating() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// TestRegenPageTestdata stores the end of a fixture's log.
func TestRegenPageTestdata(t *testing.T) {
	if os.Getenv(envRegen) == "" {
		t.Skipf("set %s=1 to rewrite testdata/*.log.json from ../shared/vmcores", envRegen)
	}
	dir := testfixtures.Dir(t)
	for _, name := range pageFixtures {
		tg, err := target.Open(filepath.Join(dir, name, "vmcore"), target.Options{})
		if err != nil {
			t.Fatal(err)
		}
		log, err := tg.Log()
		if err != nil {
			t.Fatal(err)
		}
		lines := log.Lines()
		// The log excerpt: the 60 lines before the panic message and all after.
		from := max(PanicLine(lines)-60, 0)
		// The report itself is testdata/report/NAME.json, kept by
		// TestReportGolden -update.
		writeJSON(t, filepath.Join("testdata", name+".log.json"), lines[from:])
		tg.Close()
	}
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

// loadData reads a fixture's stored report and log excerpt.
func loadData(t testing.TB, name string) Data {
	t.Helper()
	var r analysis.Report
	var lines []printk.Line
	for _, f := range []struct {
		path string
		v    any
	}{{filepath.Join("report", name+".json"), &r}, {name + ".log.json", &lines}} {
		b, err := os.ReadFile(filepath.Join("testdata", f.path))
		if err != nil {
			t.Fatalf("%v (regenerate with %s=1 go test ./views -run TestRegenPageTestdata)", err, envRegen)
		}
		if err := json.Unmarshal(b, f.v); err != nil {
			t.Fatalf("%s: %v", f.path, err)
		}
	}
	id := r.Identity
	return Data{Path: "/dumps/" + name + "/vmcore", Identity: &id, Report: &r, Log: lines}
}

// screen sizes the pages are checked at: page height is the terminal's less
// the tab bar, the status line and the help bar.
var screens = []struct{ w, h int }{{80, 24}, {120, 40}}

// renderPages renders every page of d as the TUI shows it on first visit.
func renderPages(d Data, w, h int, st Styles) map[string]string {
	ph := h - 3
	log := LogState{MaxLevel: 7, Wrap: true, Mark: -1}
	log.Visible = FilterLog(d.Log, log.MaxLevel)
	expanded := TimelineState{Cursor: 1, Expanded: map[int]bool{1: true, 3: true}}
	search := LogState{MaxLevel: 7, Query: "panic", Mark: -1}
	search.Visible = FilterLog(d.Log, search.MaxLevel)
	search.Matches = SearchLog(d.Log, search.Visible, search.Query)
	if len(search.Matches) > 0 {
		search.Mark = search.Matches[0]
		search.Offset = max(search.Mark-3, 0)
	}
	return map[string]string{
		"tabs":              Tabs([]string{"Overview", "Timeline", "Chains", "Buffers", "Log", "CPUs"}, 1, w, "kdump-6.1-lzo/vmcore", st),
		"overview":          Overview(d, w, ph, 0, st),
		"timeline":          Timeline(d, TimelineState{}, w, ph, st),
		"timeline-expanded": Timeline(d, expanded, w, ph, st),
		"chains":            Chains(d, w, ph, 0, st),
		"buffers":           Buffers(d, w, ph, 0, st),
		"log":               Log(d, log, w, ph, st),
		"log-search":        Log(d, search, w, ph, st),
		"cpus":              CPUs(d, w, ph, 0, st),
	}
}

// TestPagesGolden compares every page at 80 and 120 columns, rendered with
// the default styles and printed through a plain (no colour, no
// attributes) profile, with testdata/<page>-<fixture>-<width>.golden.
func TestPagesGolden(t *testing.T) {
	st := DefaultStyles(UnicodeGlyphs())
	for _, name := range pageFixtures {
		d := loadData(t, name)
		for _, sc := range screens {
			for page, out := range renderPages(d, sc.w, sc.h, st) {
				plain := ansi.Strip(out)
				checkShape(t, fmt.Sprintf("%s %s %d", name, page, sc.w), plain, sc.w, sc.h-3, page == "tabs")
				goldenPage(t, fmt.Sprintf("%s-%s-%d.golden", page, name, sc.w), plain+"\n")
			}
		}
	}
}

// checkShape: no line wider than the screen, and pages exactly as tall as
// the room they get.
func checkShape(t *testing.T, what, s string, w, h int, oneLine bool) {
	t.Helper()
	lines := strings.Split(s, "\n")
	if oneLine {
		h = 1
	}
	if len(lines) != h {
		t.Errorf("%s: %d lines, want %d", what, len(lines), h)
	}
	for i, l := range lines {
		if n := ansi.StringWidth(l); n > w {
			t.Errorf("%s: line %d is %d cells wide (> %d): %q", what, i+1, n, w, l)
		}
	}
}

func goldenPage(t *testing.T, name string, got string) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if updating() {
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (create it with go test ./views -run TestPagesGolden -update)", err)
	}
	if !bytes.Equal([]byte(got), want) {
		t.Errorf("%s differs from the golden file (go test ./views -run TestPagesGolden -update; git diff):\n%s", p, got)
	}
}

// colourSGR matches an SGR sequence that sets a foreground or background colour.
var colourSGR = regexp.MustCompile(`\x1b\[(?:[0-9;]*;)?(?:3[0-9]|4[0-9]|9[0-7]|10[0-7])(?:;[0-9;]*)?m`)

// TestPlainStylesHaveNoColour: NO_COLOR output carries attributes only.
func TestPlainStylesHaveNoColour(t *testing.T) {
	d := loadData(t, pageFixtures[0])
	for page, out := range renderPages(d, 80, 24, PlainStyles(UnicodeGlyphs())) {
		if m := colourSGR.FindString(out); m != "" {
			t.Errorf("%s: colour sequence %q in plain styles", page, m)
		}
	}
	colour := renderPages(d, 80, 24, DefaultStyles(UnicodeGlyphs()))["timeline"]
	if !colourSGR.MatchString(colour) {
		t.Error("default styles: no colour at all (the check above would prove nothing)")
	}
}

// TestASCIIPages: with ASCII glyphs and ToASCII every page is 7-bit and the
// layout (cell widths) is unchanged.
func TestASCIIPages(t *testing.T) {
	d := loadData(t, pageFixtures[0])
	uni := renderPages(d, 80, 24, PlainStyles(ASCIIGlyphs()))
	for page, out := range uni {
		a := ToASCII(out)
		for i := 0; i < len(a); i++ {
			if a[i] >= 0x80 {
				t.Fatalf("%s: non-ASCII byte %#x in %q", page, a[i], a)
			}
		}
		ul, al := strings.Split(out, "\n"), strings.Split(a, "\n")
		for i := range ul {
			if ansi.StringWidth(ul[i]) != ansi.StringWidth(al[i]) {
				t.Errorf("%s line %d: width %d became %d", page, i, ansi.StringWidth(ul[i]), ansi.StringWidth(al[i]))
			}
		}
	}
	tl := ansi.Strip(uni["timeline"])
	for _, g := range []string{"✓", "▶", "·", "–", "›"} {
		if strings.Contains(tl, g) {
			t.Errorf("ASCII timeline still draws %q", g)
		}
	}
}

// TestPagesWithoutData: every page says what is missing instead of failing.
func TestPagesWithoutData(t *testing.T) {
	st := PlainStyles(UnicodeGlyphs())
	cases := []struct {
		d    Data
		want string
	}{
		{Data{Path: "x", Loading: "reading symbols"}, "still loading (reading symbols)"},
		{Data{Path: "x", OpenErr: "not a dump"}, "not a dump"},
		{Data{Path: "x", LogErr: "no VMCOREINFO", ReportErr: "analysis failed"}, "analysis failed"},
	}
	for _, c := range cases {
		for page, out := range renderPages(c.d, 80, 24, st) {
			if page == "tabs" {
				continue
			}
			if !strings.Contains(out, "no ") && !strings.Contains(out, "still loading") {
				t.Errorf("%s with %+v: says nothing is missing:\n%s", page, c.d, out)
			}
		}
		if out := renderPages(c.d, 80, 24, st)["overview"]; !strings.Contains(out, c.want) {
			t.Errorf("overview with %+v lacks %q:\n%s", c.d, c.want, out)
		}
	}
	d := Data{LogErr: "the dump has no VMCOREINFO"}
	if out := Log(d, LogState{MaxLevel: 7, Mark: -1}, 80, 10, st); !strings.Contains(out, "no kernel log: the dump has no VMCOREINFO") {
		t.Errorf("log page:\n%s", out)
	}
}
