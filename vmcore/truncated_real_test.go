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
