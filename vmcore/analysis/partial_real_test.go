package analysis_test

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/panicscope/panicscope/internal/testfixtures"
	"github.com/panicscope/panicscope/vmcore/analysis"
	"github.com/panicscope/panicscope/vmcore/target"
)

// TestTruncatedDumpGivesPartialReport: a dump cut short still yields a
// report that names what it could not read, and claims nothing it did not
// read.
func TestTruncatedDumpGivesPartialReport(t *testing.T) {
	fx := testfixtures.Get(t, "kdump-6.1-lzo")
	src := testfixtures.Decompressed(t, filepath.Join(fx.Dir, "vmcore.elf.zst"))
	cut := filepath.Join(t.TempDir(), "cut.elf")
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(cut)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(out, in, 300_000); err != nil {
		t.Fatal(err)
	}
	out.Close()

	tg, err := target.Open(cut, target.Options{})
	if err != nil {
		t.Fatalf("a truncated dump whose headers are intact must open: %v", err)
	}
	defer tg.Close()
	r := analysis.Build(tg)
	if r.Kernel.Release != fx.Meta.KernelRelease {
		t.Errorf("release %q: VMCOREINFO is in the headers and must still be read", r.Kernel.Release)
	}
	if r.Panic.Message != analysis.Unknown || r.Panic.Taint != analysis.Unknown {
		t.Errorf("panic message %q, taint %q: want %q for facts that were not read", r.Panic.Message, r.Panic.Taint, analysis.Unknown)
	}
	joined := strings.Join(r.Problems, "\n")
	for _, want := range []string{"beyond the end of the dump", "kernel log"} {
		if !strings.Contains(joined, want) {
			t.Errorf("problems do not mention %q:\n%s", want, joined)
		}
	}
	if strings.Contains(joined, "pcpu_hot") {
		t.Errorf("per-CPU noise when no symbols were read:\n%s", joined)
	}
}
