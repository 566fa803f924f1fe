package vmcore_test

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/panicscope/panicscope/internal/testfixtures"
	"github.com/panicscope/panicscope/vmcore"
	"github.com/panicscope/panicscope/vmcore/phys"
)

// TestSamePagesAcrossFormats reads the same random physical pages through
// every container of one crash and requires identical bytes wherever both
// containers hold the page.
func TestSamePagesAcrossFormats(t *testing.T) {
	cases := []struct {
		fixture string
		files   []string
	}{
		{"kdump-6.1-lzo", []string{"vmcore", "vmcore.zstd", "vmcore.elf.zst"}},
		{"kdump-6.1-zlib-postnotifiers", []string{"vmcore", "vmcore.flat"}},
		{"qemu-6.1-sysrq", []string{"vmcore", "vmcore.elf.zst"}},
	}
	for _, c := range cases {
		t.Run(c.fixture, func(t *testing.T) {
			fx := testfixtures.Get(t, c.fixture)
			var dumps []*vmcore.Dump
			for _, name := range c.files {
				p := filepath.Join(fx.Dir, name)
				if filepath.Ext(p) == ".zst" {
					p = testfixtures.Decompressed(t, p)
				}
				d, err := vmcore.Open(p)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				defer d.Close()
				dumps = append(dumps, d)
			}
			pfns := samplePFNs(dumps[0], 1000)
			compared := 0
			for _, pfn := range pfns {
				var ref []byte
				for i, d := range dumps {
					page := make([]byte, phys.PageSize)
					err := d.ReadPhys(page, pfn*phys.PageSize)
					if err != nil {
						var me *phys.MissingError
						if !errors.As(err, &me) {
							t.Fatalf("%s pfn %#x: %v", c.files[i], pfn, err)
						}
						continue
					}
					if ref == nil {
						ref = page
						continue
					}
					compared++
					if !bytes.Equal(ref, page) {
						t.Fatalf("pfn %#x differs between %s and %s", pfn, c.files[0], c.files[i])
					}
				}
			}
			if compared < 500 {
				t.Fatalf("only %d page comparisons made: the containers hold too few common pages", compared)
			}
		})
	}
}

// samplePFNs draws n page numbers, deterministically, from the dump's ranges.
func samplePFNs(d *vmcore.Dump, n int) []uint64 {
	var all []uint64
	for _, r := range d.PhysRanges() {
		for p := r.Start / phys.PageSize; p < (r.End+phys.PageSize-1)/phys.PageSize; p++ {
			all = append(all, p)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	out := make([]uint64, 0, n)
	for i := 0; i < n && len(all) > 0; i++ {
		out = append(out, all[rng.IntN(len(all))])
	}
	return out
}
