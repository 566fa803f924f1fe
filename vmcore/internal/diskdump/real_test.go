package diskdump

import (
	"bytes"
	"debug/elf"
	"errors"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/panicscope/panicscope/internal/testfixtures"
	"github.com/panicscope/panicscope/vmcore/internal/flat"
	"github.com/panicscope/panicscope/vmcore/phys"
)

func openPath(t testing.TB, path string) *File {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Skipf("fixture: %v", err)
	}
	t.Cleanup(func() { fh.Close() })
	st, err := fh.Stat()
	if err != nil {
		t.Fatal(err)
	}
	f, err := Open(fh, st.Size())
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return f
}

// dumpedPFNs lists every dumped pfn.
func dumpedPFNs(f *File) []uint64 {
	var out []uint64
	for _, r := range f.Ranges() {
		for a := r.Start; a < r.End; a += uint64(f.BlockSize()) {
			out = append(out, a/uint64(f.BlockSize()))
		}
	}
	return out
}

// TestRealFixtures opens every kdump-compressed file and decodes every
// dumped page.
func TestRealFixtures(t *testing.T) {
	root := testfixtures.Dir(t)
	paths, _ := filepath.Glob(filepath.Join(root, "*", "vmcore"))
	zst, _ := filepath.Glob(filepath.Join(root, "*", "vmcore.zstd"))
	paths = append(paths, zst...)
	if len(paths) == 0 {
		t.Skip("no vmcore files")
	}
	for _, p := range paths {
		name := filepath.Base(filepath.Dir(p)) + "/" + filepath.Base(p)
		t.Run(name, func(t *testing.T) {
			f := openPath(t, p)
			h := f.Header()
			info := f.VMCOREINFO()
			if strings.HasPrefix(name, "qemu-6.1-novmcoreinfo/") {
				if info != nil {
					t.Errorf("VMCOREINFO present (%d bytes) in the no-vmcoreinfo fixture", len(info))
				}
			} else if !bytes.Contains(info, []byte("OSRELEASE=")) {
				t.Errorf("VMCOREINFO lacks OSRELEASE=: %q", info[:min(len(info), 80)])
			}
			if len(f.Notes()) == 0 {
				t.Error("no ELF notes")
			}
			if h.BlockSize != 4096 || h.Version != 6 || f.Incomplete() || f.Truncated() || len(f.Warnings()) > 0 {
				t.Errorf("header %+v incomplete=%v truncated=%v warnings=%v", h, f.Incomplete(), f.Truncated(), f.Warnings())
			}
			wantLevel := 1
			if strings.HasPrefix(name, "kdump-") {
				wantLevel = 31
			}
			if f.DumpLevel() != wantLevel {
				t.Errorf("DumpLevel = %d, want %d", f.DumpLevel(), wantLevel)
			}
			pfns := dumpedPFNs(f)
			if uint64(len(pfns)) != f.DumpedPages() {
				t.Errorf("Ranges cover %d pages, DumpedPages = %d", len(pfns), f.DumpedPages())
			}
			buf := make([]byte, 4096)
			for _, pfn := range pfns {
				if err := f.ReadPhys(buf, pfn*4096); err != nil {
					t.Fatalf("pfn %#x: %v", pfn, err)
				}
			}
			t.Logf("v%d status=%#x compression=%s max_mapnr=%#x (32-bit %#x) dumped=%d ranges=%d level=%d phys_base=%#x cpus=%d current_cpu=%d uts=%q/%q vmcoreinfo=%d notes=%d",
				h.Version, h.Status, f.Compression(), h.MaxMapnr, h.MaxMapnr32, len(pfns), len(f.Ranges()), f.DumpLevel(),
				h.Sub.PhysBase, h.NrCPUs, h.CurrentCPU, h.UTSName.Release, h.UTSName.Machine, len(info), len(f.Notes()))
		})
	}
}

func TestRealExcludedAndMissing(t *testing.T) {
	f := openPath(t, filepath.Join(testfixtures.Dir(t), "kdump-6.1-lzo", "vmcore"))
	// Dump level 31 leaves out many pages that exist: find one.
	var excluded, hole uint64
	foundEx, foundHole := false, false
	for pfn := uint64(0); pfn < f.maxPFN && !(foundEx && foundHole); pfn++ {
		inRAM, err1 := f.ram.test(pfn)
		dumped, err2 := f.dumped.test(pfn)
		if err := errors.Join(err1, err2); err != nil {
			t.Fatal(err)
		}
		switch {
		case !foundEx && inRAM && !dumped:
			excluded, foundEx = pfn, true
		case !foundHole && !inRAM:
			hole, foundHole = pfn, true
		}
	}
	if !foundEx {
		t.Fatal("no excluded page in a dump level 31 dump")
	}
	missing(t, f.ReadPhys(make([]byte, 8), excluded*4096+8), excluded*4096+8, phys.Excluded)
	if foundHole {
		missing(t, f.ReadPhys(make([]byte, 8), hole*4096), hole*4096, phys.NotInDump)
	}
	missing(t, f.ReadPhys(make([]byte, 8), f.maxPFN*4096), f.maxPFN*4096, phys.NotInDump)
}

// TestRealLZOvsZstd: the same crash written twice (lzo and zstd pages)
// holds the same pages.
func TestRealLZOvsZstd(t *testing.T) {
	dir := filepath.Join(testfixtures.Dir(t), "kdump-6.1-lzo")
	lz := openPath(t, filepath.Join(dir, "vmcore"))
	zs := openPath(t, filepath.Join(dir, "vmcore.zstd"))
	if !strings.HasPrefix(lz.Compression(), "lzo") || !strings.HasPrefix(zs.Compression(), "zstd") {
		t.Fatalf("compression %q / %q", lz.Compression(), zs.Compression())
	}
	if !equalRanges(lz.Ranges(), zs.Ranges()) {
		t.Errorf("dumped ranges differ: %d vs %d ranges", len(lz.Ranges()), len(zs.Ranges()))
	}
	pfns := dumpedPFNs(lz)
	rng := rand.New(rand.NewSource(4))
	a, b := make([]byte, 4096), make([]byte, 4096)
	for i := 0; i < 200; i++ {
		pfn := pfns[rng.Intn(len(pfns))]
		if err := lz.ReadPhys(a, pfn*4096); err != nil {
			t.Fatalf("lzo pfn %#x: %v", pfn, err)
		}
		if err := zs.ReadPhys(b, pfn*4096); err != nil {
			t.Fatalf("zstd pfn %#x: %v", pfn, err)
		}
		if !bytes.Equal(a, b) {
			t.Fatalf("pfn %#x differs between lzo and zstd", pfn)
		}
	}
}

// TestRealFlattened reads the flattened stream through flat and compares
// every dumped page with the rearranged vmcore.
func TestRealFlattened(t *testing.T) {
	dir := filepath.Join(testfixtures.Dir(t), "kdump-6.1-zlib-postnotifiers")
	plain := openPath(t, filepath.Join(dir, "vmcore"))
	fh, err := os.Open(filepath.Join(dir, "vmcore.flat"))
	if err != nil {
		t.Skipf("fixture: %v", err)
	}
	defer fh.Close()
	st, _ := fh.Stat()
	fr, err := flat.Open(fh, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	ff, err := Open(fr, fr.Size())
	if err != nil {
		t.Fatal(err)
	}
	if ff.Header() != plain.Header() || !bytes.Equal(ff.VMCOREINFO(), plain.VMCOREINFO()) || !bytes.Equal(ff.Notes(), plain.Notes()) {
		t.Fatal("headers differ")
	}
	if !equalRanges(ff.Ranges(), plain.Ranges()) || ff.Compression() != plain.Compression() {
		t.Fatal("ranges or compression differ")
	}
	a, b := make([]byte, 4096), make([]byte, 4096)
	for _, pfn := range dumpedPFNs(plain) {
		if err := plain.ReadPhys(a, pfn*4096); err != nil {
			t.Fatal(err)
		}
		if err := ff.ReadPhys(b, pfn*4096); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Fatalf("pfn %#x differs", pfn)
		}
	}
}

// TestRealAgainstELF compares pages with the ELF copy of the same memory
// (makedumpfile -E of the same crash; QEMU paging=false ELF of the same
// stopped VM). Slow: decompresses ~100 MiB once.
func TestRealAgainstELF(t *testing.T) {
	if testing.Short() {
		t.Skip("decompresses a 100 MiB ELF copy")
	}
	for _, name := range []string{"kdump-6.1-lzo", "qemu-6.1-sysrq"} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(testfixtures.Dir(t), name)
			zst := filepath.Join(dir, "vmcore.elf.zst")
			if _, err := os.Stat(zst); err != nil {
				t.Skipf("fixture: %v", err)
			}
			f := openPath(t, filepath.Join(dir, "vmcore"))
			ef, err := elf.Open(testfixtures.Decompressed(t, zst))
			if err != nil {
				t.Fatal(err)
			}
			defer ef.Close()
			// Physical pages held in full by a PT_LOAD. The kdump ELF also
			// maps kernel text virtually; p_paddr covers both.
			elfPage := func(paddr uint64) ([]byte, bool) {
				for _, p := range ef.Progs {
					if p.Type != elf.PT_LOAD || paddr < p.Paddr || paddr+4096 > p.Paddr+p.Filesz {
						continue
					}
					b := make([]byte, 4096)
					if _, err := p.ReadAt(b, int64(paddr-p.Paddr)); err != nil {
						t.Fatal(err)
					}
					return b, true
				}
				return nil, false
			}
			rng := rand.New(rand.NewSource(5))
			pfns := dumpedPFNs(f)
			buf := make([]byte, 4096)
			compared, differ := 0, 0
			for i := 0; i < 2000; i++ {
				pfn := pfns[rng.Intn(len(pfns))]
				want, ok := elfPage(pfn * 4096)
				if !ok {
					continue
				}
				if err := f.ReadPhys(buf, pfn*4096); err != nil {
					t.Fatal(err)
				}
				compared++
				if !bytes.Equal(buf, want) {
					differ++
				}
			}
			t.Logf("%d pages compared with the ELF copy, %d differ", compared, differ)
			if compared == 0 || differ > compared/100 {
				t.Errorf("%d of %d pages differ from the ELF copy", differ, compared)
			}
		})
	}
}

func BenchmarkReadPhysRandom(b *testing.B) {
	root := testfixtures.Dir(b)
	for _, c := range []struct{ name, path string }{
		{"lzo", "kdump-6.1-lzo/vmcore"},
		{"zstd", "kdump-6.1-lzo/vmcore.zstd"},
		{"zlib", "kdump-6.1-zlib-postnotifiers/vmcore"},
	} {
		f := openPath(b, filepath.Join(root, c.path))
		pfns := dumpedPFNs(f)
		buf := make([]byte, 512)
		// Cold: every read decodes its page (a one-page cache and random pfns).
		b.Run(c.name+"/cold", func(b *testing.B) {
			f.cache = phys.NewPageCache(1)
			rng := rand.New(rand.NewSource(6))
			b.SetBytes(int64(len(buf)))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				pfn := pfns[rng.Intn(len(pfns))]
				if err := f.ReadPhys(buf, pfn*4096+uint64(rng.Intn(4096-len(buf)))); err != nil {
					b.Fatal(err)
				}
			}
		})
		// Warm: random reads among 1024 pages that all fit in the cache.
		b.Run(c.name+"/warm", func(b *testing.B) {
			f.cache = phys.NewPageCache(4096)
			rng := rand.New(rand.NewSource(7))
			hot := make([]uint64, 1024)
			for i := range hot {
				hot[i] = pfns[rng.Intn(len(pfns))]
				f.ReadPhys(buf, hot[i]*4096)
			}
			b.SetBytes(int64(len(buf)))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				pfn := hot[rng.Intn(len(hot))]
				if err := f.ReadPhys(buf, pfn*4096+uint64(rng.Intn(4096-len(buf)))); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
