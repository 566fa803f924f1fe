package analysis_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/panicscope/panicscope/internal/testfixtures"
	"github.com/panicscope/panicscope/vmcore"
	"github.com/panicscope/panicscope/vmcore/analysis"
	"github.com/panicscope/panicscope/vmcore/target"
)

// TestIdentifyEveryDump opens every dump file of every fixture and checks
// the facts against meta.json and kernels/RELEASE/vmlinux.build-id.
func TestIdentifyEveryDump(t *testing.T) {
	for _, fx := range testfixtures.All(t) {
		for _, f := range fx.Meta.Files {
			t.Run(fx.Name+"/"+f.Name, func(t *testing.T) {
				p := filepath.Join(fx.Dir, f.Name)
				if strings.HasSuffix(p, ".zst") {
					p = testfixtures.Decompressed(t, p)
				}
				tg, err := target.Open(p, target.Options{})
				if err != nil {
					t.Fatal(err)
				}
				defer tg.Close()
				id := analysis.Identify(tg.Dump)
				if id.Release == nil || *id.Release != fx.Meta.KernelRelease {
					t.Errorf("release %v, want %q", id.Release, fx.Meta.KernelRelease)
				}
				if want := testfixtures.BuildID(t, fx.Meta.KernelRelease); id.BuildID == nil || *id.BuildID != want {
					t.Errorf("build id %v, want %q", id.BuildID, want)
				}
				if id.Version == nil || !strings.HasPrefix(*id.Version, "#1 SMP") {
					t.Errorf("version %v does not look like a uts version", id.Version)
				}
				if id.CPUs != 2 {
					t.Errorf("cpus %d, want 2", id.CPUs)
				}
				wantLevels := 4
				if fx.Name == "qemu-6.1-lp-warn" {
					wantLevels = 5
				}
				if id.PagingLevels == nil || *id.PagingLevels != wantLevels {
					t.Errorf("paging levels %v, want %d", id.PagingLevels, wantLevels)
				}
				if want := expectedKASLR(fx); want != "" && (id.KASLROffset == nil || *id.KASLROffset != want) {
					t.Errorf("kaslr offset %v, want %s", id.KASLROffset, want)
				}
				if fx.Name == "qemu-6.1-novmcoreinfo" && !strings.HasPrefix(id.VMCOREINFOSource, vmcore.InfoFromMemoryScan) {
					t.Errorf("vmcoreinfo source %q, want a memory scan", id.VMCOREINFOSource)
				}
			})
		}
	}
}

func expectedKASLR(fx testfixtures.Fixture) string {
	if m, ok := fx.Meta.Raw["expected_from_memory_drgn"].(map[string]any); ok {
		if s, ok := m["kaslr_offset"].(string); ok {
			return s
		}
	}
	if m, ok := fx.Meta.Raw["expected"].(map[string]any); ok {
		if s, ok := m["kernel_offset"].(string); ok {
			return s
		}
	}
	return ""
}
