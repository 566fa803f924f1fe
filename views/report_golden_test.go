package views_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/panicscope/panicscope/internal/testfixtures"
	"github.com/panicscope/panicscope/views"
	"github.com/panicscope/panicscope/vmcore/analysis"
	"github.com/panicscope/panicscope/vmcore/target"
)

var update = flag.Bool("update", false, "rewrite golden files")

// TestReportGolden renders the report of every fixture as JSON, text and
// Markdown and compares with testdata/report/<fixture>.{json,txt,md}.
// The JSON golden doubles as the input of the dump-free renderer tests.
func TestReportGolden(t *testing.T) {
	for _, fx := range testfixtures.All(t) {
		t.Run(fx.Name, func(t *testing.T) {
			tg, err := target.Open(filepath.Join(fx.Dir, "vmcore"), target.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer tg.Close()
			r := analysis.Build(tg)
			js, err := json.MarshalIndent(r, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			golden(t, fx.Name+".json", append(js, '\n'))
			golden(t, fx.Name+".txt", []byte(views.ReportText(r, 100)))
			golden(t, fx.Name+".md", []byte(views.ReportMarkdown(r)))
		})
	}
}

// TestReportFromJSON renders the stored reports without any dump, so the
// renderers are tested on a fresh clone too.
func TestReportFromJSON(t *testing.T) {
	files, _ := filepath.Glob("testdata/report/*.json")
	if len(files) == 0 {
		t.Fatal("no testdata/report/*.json")
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var r analysis.Report
		if err := json.Unmarshal(data, &r); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		base := f[:len(f)-len(".json")]
		compare(t, base+".txt", []byte(views.ReportText(&r, 100)))
		compare(t, base+".md", []byte(views.ReportMarkdown(&r)))
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", "report", name)
	if *update {
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	compare(t, p, got)
}

func compare(t *testing.T, path string, got []byte) {
	t.Helper()
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./views -update with ../shared/vmcores present)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file; diff with -update and git diff", path)
	}
}

// TestTextWidths renders the report and the plan of two stored reports at
// 60, 80 and 120 columns, compares them with testdata/width/, and checks
// that no line is wider than asked (a word longer than the width may
// stand alone on its line).
func TestTextWidths(t *testing.T) {
	for _, name := range []string{"kdump-6.1-lzo", "qemu-6.1-lp-oops-pstore"} {
		data, err := os.ReadFile(filepath.Join("testdata", "report", name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		var r analysis.Report
		if err := json.Unmarshal(data, &r); err != nil {
			t.Fatal(err)
		}
		if r.Plan == nil {
			p := analysis.Plan(&r)
			r.Plan = &p
		}
		for _, w := range []int{60, 80, 120} {
			for kind, text := range map[string]string{"report": views.ReportText(&r, w), "plan": views.PlanText(&r, w)} {
				file := filepath.Join("..", "width", fmt.Sprintf("%s-%s-%d.txt", name, kind, w))
				golden(t, file, []byte(text))
				for i, l := range strings.Split(text, "\n") {
					if n := len([]rune(l)); n > w && strings.Contains(strings.TrimSpace(l), " ") {
						t.Errorf("%s line %d: %d columns > %d: %q", file, i+1, n, w, l)
					}
				}
			}
		}
	}
}
