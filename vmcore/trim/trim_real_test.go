package trim

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/panicscope/panicscope/internal/testfixtures"
	"github.com/panicscope/panicscope/vmcore"
	"github.com/panicscope/panicscope/vmcore/analysis"
	"github.com/panicscope/panicscope/vmcore/printk"
	"github.com/panicscope/panicscope/vmcore/target"
	"github.com/panicscope/panicscope/vmcore/unwind"
)

// TestTrimRealDumps trims fixtures, opens the copies and checks that the
// report (but for ContainerFields) and the whole kernel log are the same.
func TestTrimRealDumps(t *testing.T) {
	for _, tc := range []struct {
		fixture, file string
		maxBytes      int64
		arm64         bool
	}{
		{"qemu-6.1-lp-oops-pstore", "vmcore", 4 << 20, false},
		{"kdump-6.1-lzo", "vmcore", 4 << 20, false},
		{"kdump-6.1-zlib-postnotifiers", "vmcore.flat", 4 << 20, false},
		{"qemu-6.1-novmcoreinfo", "vmcore", 4 << 20, false},
		// QEMU's 64 KiB blocks are written as 4 KiB pages.
		{"qemu-arm64-6.12-sysrq", "vmcore", 4 << 20, true},
		{"kdump-arm64-6.12-elf", "vmcore.elf.zst", 4 << 20, true},
	} {
		t.Run(tc.fixture+"/"+tc.file, func(t *testing.T) {
			var fx testfixtures.Fixture
			if tc.arm64 {
				fx = testfixtures.GetArm64(t, tc.fixture)
			} else {
				fx = testfixtures.Get(t, tc.fixture)
			}
			src := filepath.Join(fx.Dir, tc.file)
			if filepath.Ext(src) == ".zst" {
				src = testfixtures.Decompressed(t, src)
			}
			out := filepath.Join(t.TempDir(), "trimmed")
			res, err := File(context.Background(), src, out, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Problems) > 0 {
				t.Errorf("problems: %v", res.Problems)
			}
			st, err := os.Stat(out)
			if err != nil || st.Size() != res.Bytes {
				t.Fatalf("output: %v (result says %d bytes)", err, res.Bytes)
			}
			t.Logf("kept %d of %d pages, %d bytes (source %d)", res.KeptPages, res.SourcePages, res.Bytes, res.SourceBytes)
			if res.Bytes > tc.maxBytes || uint64(res.KeptPages) >= res.SourcePages/4 {
				t.Errorf("copy too big: %d bytes, %d of %d pages", res.Bytes, res.KeptPages, res.SourcePages)
			}

			a, alog, abt := reportAndLog(t, src)
			b, blog, bbt := reportAndLog(t, out)
			if len(abt) == 0 || !reflect.DeepEqual(abt, bbt) {
				t.Errorf("CPU backtraces differ:\n%v\n%v", abt, bbt)
			}
			diffs, err := Differences(a, b)
			if err != nil {
				t.Fatal(err)
			}
			if len(diffs) > 0 {
				t.Errorf("reports differ outside the container fields at %v", diffs)
			}
			if !reflect.DeepEqual(alog, blog) {
				t.Errorf("kernel logs differ: %d vs %d records", len(alog.Records), len(blog.Records))
			}
			if len(a.Chains) == 0 || a.Panic.Message == nil {
				t.Fatalf("source report is empty: %+v", a.Panic)
			}
			id := b.Identity
			if id.Format != string(vmcore.FormatKdumpCompressed) || !id.Filtered || id.DumpLevel != DumpLevel || id.Compression != "zlib" {
				t.Errorf("copy identity: %s, %s, filtered %v, level %d", id.Format, id.Compression, id.Filtered, id.DumpLevel)
			}
			if id.VMCOREINFOSource != vmcore.InfoFromHeader {
				t.Errorf("copy's VMCOREINFO from %q, want the kdump header", id.VMCOREINFOSource)
			}
			if !tc.arm64 { // crash 8.0.2 on the host reads x86_64 dumps only
				checkWithTools(t, src, out, *a.Kernel.Release)
			}
		})
	}
}

func reportAndLog(t *testing.T, path string) (*analysis.Report, *printk.Log, [][]string) {
	t.Helper()
	tg, err := target.Open(path, target.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	r := analysis.Build(tg)
	log, err := tg.Log()
	if err != nil {
		t.Fatalf("%s: log: %v", path, err)
	}
	u, err := unwind.NewKernel(tg.Dump.Arch(), tg.Kernel, tg.Syms, *r.Kernel.Release)
	if err != nil {
		t.Fatalf("%s: unwind: %v", path, err)
	}
	var bts [][]string
	for i, c := range tg.Dump.CPUs {
		ct := u.UnwindCPU(i, c.Regs)
		bts = append(bts, append(ct.Functions(false), ct.End, ct.Err))
	}
	return r, log, bts
}

// checkWithTools runs crash --minimal's log and makedumpfile --dump-dmesg
// on both files when they (and the debug vmlinux crash needs) are
// installed, and wants the same output.
func checkWithTools(t *testing.T, src, out, release string) {
	vmlinux := "/usr/lib/debug/boot/vmlinux-" + release
	if _, err := exec.LookPath("crash"); err != nil {
		t.Log("crash not installed: crash check skipped")
	} else if _, err := os.Stat(vmlinux); err != nil {
		t.Logf("no %s: crash check skipped", vmlinux)
	} else {
		crashLog := func(dump string) []byte {
			cmds := filepath.Join(t.TempDir(), "cmds")
			if err := os.WriteFile(cmds, []byte("log\nquit\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			b, err := exec.Command("crash", "--minimal", "-s", "-i", cmds, vmlinux, dump).CombinedOutput()
			if err != nil {
				t.Errorf("crash --minimal %s: %v\n%s", dump, err, b)
			}
			return b
		}
		if a, b := crashLog(src), crashLog(out); !bytes.Equal(a, b) || len(a) < 1000 {
			t.Errorf("crash --minimal log: %d bytes from the source, %d from the copy", len(a), len(b))
		}
	}
	if _, err := exec.LookPath("makedumpfile"); err != nil {
		t.Log("makedumpfile not installed: check skipped")
		return
	}
	dmesg := func(dump string) ([]byte, error) {
		p := filepath.Join(t.TempDir(), "dmesg")
		if b, err := exec.Command("makedumpfile", "--dump-dmesg", dump, p).CombinedOutput(); err != nil {
			return b, err
		}
		return os.ReadFile(p)
	}
	a, err := dmesg(src)
	if err != nil {
		// makedumpfile 1.7.2 cannot read QEMU-written or flattened input.
		t.Logf("makedumpfile cannot read the source (%v): check skipped", err)
		return
	}
	if b, err := dmesg(out); err != nil || !bytes.Equal(a, b) {
		t.Errorf("makedumpfile --dump-dmesg on the copy: %v\n%s", err, b)
	}
}

// BenchmarkTrim measures trimming the 6.1 oops fixture (open, record the
// analysis, write).
func BenchmarkTrim(b *testing.B) {
	fx := testfixtures.Get(b, "qemu-6.1-lp-oops-pstore")
	out := filepath.Join(b.TempDir(), "trimmed")
	for b.Loop() {
		if _, err := File(context.Background(), filepath.Join(fx.Dir, "vmcore"), out, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
