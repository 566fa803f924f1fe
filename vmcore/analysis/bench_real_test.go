package analysis_test

import (
	"encoding/json"
	"io"
	"path/filepath"
	"testing"

	"github.com/panicscope/panicscope/internal/testfixtures"
	"github.com/panicscope/panicscope/vmcore/analysis"
	"github.com/panicscope/panicscope/vmcore/target"
)

// BenchmarkOpenReport is what `panicscope report --json` does on the
// kdump-6.1-lzo fixture: open the dump, build the report, encode it. Each
// iteration opens the dump afresh, so no page or type is cached.
func BenchmarkOpenReport(b *testing.B) {
	fx := testfixtures.Get(b, "kdump-6.1-lzo")
	p := filepath.Join(fx.Dir, "vmcore")
	b.ReportAllocs()
	for b.Loop() {
		t, err := target.Open(p, target.Options{})
		if err != nil {
			b.Fatal(err)
		}
		r := analysis.Build(t)
		if err := json.NewEncoder(io.Discard).Encode(r); err != nil {
			b.Fatal(err)
		}
		if err := t.Close(); err != nil {
			b.Fatal(err)
		}
	}
}
