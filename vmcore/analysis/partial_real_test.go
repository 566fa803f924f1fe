package analysis_test

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/panicscope/panicscope/internal/testfixtures"
	"github.com/panicscope/panicscope/vmcore/analysis"
	"github.com/panicscope/panicscope/vmcore/finding"
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
	if r.Kernel.Release == nil || *r.Kernel.Release != fx.Meta.KernelRelease {
		t.Errorf("release %v: VMCOREINFO is in the headers and must still be read", r.Kernel.Release)
	}
	if r.Panic.Message != nil || r.Panic.Taint != nil || r.Panic.CPU != nil || r.Log != nil {
		t.Errorf("panic message %v, taint %v, cpu %v, log %v: want nil for facts that were not read", r.Panic.Message, r.Panic.Taint, r.Panic.CPU, r.Log)
	}
	if log := r.Problems.About(finding.AreaLog); len(log) == 0 || log[0].Kind != finding.Unreadable {
		t.Errorf("log problems %v: want an unreadable kernel log", log)
	}
	var msgs []string
	for _, p := range r.Problems {
		msgs = append(msgs, p.Message())
	}
	joined := strings.Join(msgs, "\n")
	for _, want := range []string{"beyond the end of the dump"} {
		if !strings.Contains(joined, want) {
			t.Errorf("problems do not mention %q:\n%s", want, joined)
		}
	}
	if strings.Contains(joined, "pcpu_hot") {
		t.Errorf("per-CPU noise when no symbols were read:\n%s", joined)
	}
}
