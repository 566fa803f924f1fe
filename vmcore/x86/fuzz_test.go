package x86

import (
	"encoding/binary"
	"testing"
)

// FuzzWalk translates addresses over page tables made of fuzz bytes: the
// data is laid out as consecutive 4 KiB pages from physical 0x100000 (the
// first is the top table). No input may panic, and the cached translation
// must agree with the walk, also on the second, cached, try.
func FuzzWalk(f *testing.F) {
	k := newKernelLayout(4, 0x1000000, 0x2000000, DefaultPageOffset4)
	var seed []byte
	for pa := uint64(0x100000); pa < k.m.next && len(seed) < 64<<10; pa += pageSize {
		seed = append(seed, k.m.page(pa)[:]...)
	}
	f.Add(seed, k.text+0x123456, uint8(4))
	f.Add(seed, DefaultPageOffset4+0x3456789, uint8(4))
	f.Add([]byte{1, 0x10, 0x10, 0, 0, 0, 0, 0}, uint64(0xffff888000000000), uint8(5))
	f.Fuzz(func(t *testing.T, data []byte, va uint64, levels uint8) {
		if len(data) > 1<<20 {
			return
		}
		m := newFakeMem()
		for off := 0; off < len(data); off += pageSize {
			m.write(0x100000+uint64(off), data[off:min(off+pageSize, len(data))])
		}
		if len(data) == 0 {
			m.page(0x100000)
		}
		tr, err := New(m, Config{TopPGD: 0x100000, Levels: 4 + int(levels&1)})
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range []uint64{va, va + 0x1000, va ^ 0x200000, binary.LittleEndian.Uint64(append(data, make([]byte, 8)...))} {
			w, werr := tr.Translate(a)
			for try := 0; try < 2; try++ {
				c, cerr := tr.VirtToPhys(a)
				if (werr == nil) != (cerr == nil) || w != c {
					t.Fatalf("%#x try %d: walk %#x %v, cached %#x %v", a, try, w, werr, c, cerr)
				}
			}
			_ = tr.ReadVirt(make([]byte, 24), a-8)
		}
		_, _ = tr.FindPageOffset()
	})
}
