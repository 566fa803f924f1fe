package views

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"

	"github.com/panicscope/panicscope/internal/testfixtures"
	"github.com/panicscope/panicscope/vmcore/analysis"
	"github.com/panicscope/panicscope/vmcore/target"
)

// TestPagesArm64 renders every TUI page of the arm64 fixtures at 80x24:
// the shape fits, and the overview, timeline and CPU pages show the
// panic, the stopped CPU and the panicking CPU as on x86_64.
func TestPagesArm64(t *testing.T) {
	st := DefaultStyles(UnicodeGlyphs())
	for _, fx := range testfixtures.AllArm64(t) {
		t.Run(fx.Name, func(t *testing.T) {
			p := filepath.Join(fx.Dir, fx.Meta.Files[0].Name)
			if strings.HasSuffix(p, ".zst") {
				p = testfixtures.Decompressed(t, p)
			}
			tg, err := target.Open(p, target.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer tg.Close()
			r := analysis.Build(tg)
			log, err := tg.Log()
			if err != nil {
				t.Fatal(err)
			}
			id := r.Identity
			d := Data{Path: p, Identity: &id, Report: r, Log: log.Lines()}
			pages := renderPages(d, 80, 24, st)
			for page, out := range pages {
				checkShape(t, fmt.Sprintf("%s %s", fx.Name, page), ansi.Strip(out), 80, 21, page == "tabs")
			}
			want := map[string][]string{
				"overview":   {fx.Meta.Expected.PanicMessage},
				"cpus":       {"panicking", "stopped"},
				"chains":     {"arm64_panic_block_dump"},
				"log-search": {"panic"},
			}
			for page, words := range want {
				text := ansi.Strip(pages[page])
				found := false
				for _, w := range words {
					found = found || strings.Contains(text, w)
				}
				if !found {
					t.Errorf("%s page shows none of %q:\n%s", page, words, text)
				}
			}
		})
	}
}
