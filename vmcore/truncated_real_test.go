package vmcore_test

import (
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/panicscope/panicscope/internal/testfixtures"
	"github.com/panicscope/panicscope/vmcore"
	"github.com/panicscope/panicscope/vmcore/phys"
)

// TestTruncatedDumps cuts real dumps short and requires a clean outcome: an
// error, or a Dump whose missing pages read as *phys.MissingError.
func TestTruncatedDumps(t *testing.T) {
	for _, c := range []struct{ fixture, file string }{
		{"kdump-6.1-lzo", "vmcore"},
		{"kdump-6.1-zlib-postnotifiers", "vmcore.flat"},
		{"qemu-6.1-sysrq", "vmcore"},
	} {
		fx := testfixtures.Get(t, c.fixture)
		src := filepath.Join(fx.Dir, c.file)
		st, err := os.Stat(src)
		if err != nil {
			t.Fatal(err)
		}
		for _, frac := range []int64{1, 10, 50, 90, 99} {
			cut := st.Size() * frac / 100
			p := filepath.Join(t.TempDir(), "cut")
			copyPrefix(t, src, p, cut)
			d, err := vmcore.Open(p)
			if err != nil {
				t.Logf("%s cut at %d%%: %v", c.file, frac, err)
				continue
			}
			if d.Truncation == nil {
				t.Errorf("%s cut at %d%%: Truncation nil", c.file, frac)
			} else {
				t.Logf("%s cut at %d%%: %s (%s)", c.file, frac, d.Truncation, d.Truncation.Detail)
			}
			missing := 0
			page := make([]byte, phys.PageSize)
			ranges := d.PhysRanges()
			if len(ranges) == 0 {
				// Cut before the page index: nothing is located.
				ranges = []phys.Range{{Start: 0, End: 64 << 20}}
			}
			for _, r := range ranges {
				for a := r.Start; a < r.End && a < r.Start+64<<20; a += 1 << 20 {
					if err := d.ReadPhys(page, a); err != nil {
						if !phys.IsMissing(err) {
							t.Errorf("%s cut at %d%%: read %#x: %v (want a MissingError)", c.file, frac, a, err)
						}
						missing++
					}
				}
			}
			d.Close()
			if frac < 50 && missing == 0 {
				t.Errorf("%s cut at %d%%: no page reported missing", c.file, frac)
			}
		}
	}
}

func copyPrefix(t *testing.T, src, dst string, n int64) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(out, in, n); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestEveryFixtureCutIsMarked cuts every real dump file (kdump-compressed,
// flattened, and the ELF copies of one kdump and one QEMU fixture) at 10%,
// 20% ... 90%: each opens or fails cleanly, and a Dump that opens says it
// is cut short, keeps the headers' VMCOREINFO (not one found by a memory
// scan) and CPU notes, and names
// where the missing part starts whenever a page can be located at all.
func TestEveryFixtureCutIsMarked(t *testing.T) {
	type file struct{ name, path string }
	var files []file
	for _, fx := range testfixtures.All(t) {
		for _, n := range []string{"vmcore", "vmcore.flat", "vmcore.zstd"} {
			if p := filepath.Join(fx.Dir, n); fileExists(p) {
				files = append(files, file{fx.Name + "/" + n, p})
			}
		}
		if fx.Name == "kdump-6.1-lzo" || fx.Name == "qemu-6.1-sysrq" {
			files = append(files, file{fx.Name + "/vmcore.elf", testfixtures.Decompressed(t, filepath.Join(fx.Dir, "vmcore.elf.zst"))})
		}
	}
	for _, f := range files {
		fh, err := os.Open(f.path)
		if err != nil {
			t.Fatal(err)
		}
		st, _ := fh.Stat()
		whole, err := vmcore.OpenReaderAt(fh, st.Size(), f.name)
		if err != nil {
			t.Fatalf("%s: %v", f.name, err)
		}
		if whole.Truncation != nil {
			t.Errorf("%s: the whole file says it is cut short: %s", f.name, whole.Truncation)
		}
		for pct := int64(10); pct <= 90; pct += 10 {
			n := st.Size() * pct / 100
			d, err := vmcore.OpenReaderAt(io.NewSectionReader(fh, 0, n), n, f.name)
			if err != nil {
				t.Logf("%s cut at %d%%: %v", f.name, pct, err)
				continue
			}
			switch {
			case d.Truncation == nil:
				t.Errorf("%s cut at %d%%: not marked as cut short", f.name, pct)
			case d.Truncation.FileBytes != n:
				t.Errorf("%s cut at %d%%: file_bytes %d, want %d", f.name, pct, d.Truncation.FileBytes, n)
			case d.Truncation.MissingSince == "" && len(d.PhysRanges()) > 0:
				t.Errorf("%s cut at %d%%: pages located but no missing_since: %s", f.name, pct, d.Truncation)
			}
			// VMCOREINFO found by scanning memory may lie in the missing part.
			fromHeaders := whole.InfoSource != vmcore.InfoFromMemoryScan
			if fromHeaders && (whole.VMCOREINFO() != nil) != (d.VMCOREINFO() != nil) || len(d.CPUs) != len(whole.CPUs) {
				t.Errorf("%s cut at %d%%: VMCOREINFO %v, %d CPUs (whole: %v, %d)", f.name, pct,
					d.VMCOREINFO() != nil, len(d.CPUs), whole.VMCOREINFO() != nil, len(whole.CPUs))
			}
		}
		fh.Close()
	}
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}
