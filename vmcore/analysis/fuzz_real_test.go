package analysis_test

import (
	"encoding/binary"
	"path/filepath"
	"testing"

	"github.com/panicscope/panicscope/internal/testfixtures"
	"github.com/panicscope/panicscope/vmcore/analysis"
	"github.com/panicscope/panicscope/vmcore/phys"
	"github.com/panicscope/panicscope/vmcore/target"
)

// corrupted flips bytes of the pages a hash of (pfn, seed) selects, one in
// every `every`: kernel data turned hostile (bad pointers, cyclic and
// dangling lists, lengths) the same way whatever order pages are read in.
type corrupted struct {
	phys.Memory
	seed  uint32
	every uint32
	mask  byte
}

func (c corrupted) hit(pfn uint64) (off uint64, ok bool) {
	h := uint32(pfn)*2654435761 ^ c.seed
	h ^= h >> 15
	h *= 2246822519
	h ^= h >> 13
	return uint64(h>>8) % phys.PageSize &^ 7, h%c.every == 0
}

func (c corrupted) ReadPhys(buf []byte, paddr uint64) error {
	if err := c.Memory.ReadPhys(buf, paddr); err != nil {
		return err
	}
	for pfn := paddr / phys.PageSize; pfn*phys.PageSize < paddr+uint64(len(buf)); pfn++ {
		off, ok := c.hit(pfn)
		if !ok {
			continue
		}
		// A whole 8-byte word: pointers and list links are words.
		for k := uint64(0); k < 8; k++ {
			if a := pfn*phys.PageSize + off + k; a >= paddr && a < paddr+uint64(len(buf)) {
				buf[a-paddr] ^= c.mask
			}
		}
	}
	return nil
}

// FuzzAnalysisCorruptPages runs the whole analysis (symbols, BTF, chains,
// dumpers, pstore, CPUs, log, timeline) on a real dump whose pages are
// corrupted as the fuzz input chooses: it must finish with a report, never
// panic or hang. Skipped without ../shared.
func FuzzAnalysisCorruptPages(f *testing.F) {
	fx := testfixtures.Get(f, "kdump-6.1-lzo")
	dump := filepath.Join(fx.Dir, "vmcore")
	for _, s := range [][]byte{{1, 0, 0, 0, 200, 0xff}, {2, 0, 0, 0, 7, 0x80}, {3, 0, 0, 0, 2, 0x01}, {4, 0, 0, 0, 31, 0x55}} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) < 6 {
			return
		}
		c := corrupted{seed: binary.LittleEndian.Uint32(in), every: uint32(in[4])%64 + 2, mask: in[5] | 1}
		tg, err := target.Open(dump, target.Options{WrapMemory: func(m phys.Memory) phys.Memory { c.Memory = m; return c }})
		if err != nil {
			t.Fatal(err)
		}
		defer tg.Close()
		r := analysis.Build(tg)
		if r == nil {
			t.Fatal("no report")
		}
	})
}
