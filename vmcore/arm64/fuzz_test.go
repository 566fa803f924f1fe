package arm64

import (
	"encoding/binary"
	"testing"
)

// FuzzPRStatus decodes arm64 NT_PRSTATUS and pt_regs images of any size:
// an error or registers, never a panic; a decoded set round-trips through
// Words.
func FuzzPRStatus(f *testing.F) {
	f.Add(prstatus(165, 0xffff800080503970, 0xffffc857563bec2c, 0x60400005))
	f.Add(make([]byte, 336))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, desc []byte) {
		st, err := Arch.PRStatus(desc)
		if err == nil {
			w := Words(st.Regs)
			if w[32] != st.Regs.PC || w[31] != st.Regs.SP || w[29] != st.Regs.FP {
				t.Fatalf("round trip: %+v", st.Regs)
			}
			_ = Arch.RegsLines(st.Regs)
		}
		r := Arch.DecodePtRegs(desc)
		if len(desc) >= UserPtRegsSize && r.Partial {
			t.Fatalf("full image marked partial")
		}
	})
}

// FuzzWalk translates addresses over page tables made of fuzz bytes (laid
// out from physical 0x100000, the first bytes the top table), for every
// granule, VA size and descriptor format: no input may panic, and the
// cached translation agrees with the walk, also when cached.
func FuzzWalk(f *testing.F) {
	b := newBuilder(Config{PageShift: 12, VABits: 48, ConfigVABits: 48})
	b.mapAt(0xffff800000010000, 0x5000000, 3)
	b.mapAt(0xffff000040000000, 0x40000000, 1)
	var seed []byte
	for pa := b.top; pa < b.next; pa += 4096 {
		var page [4096]byte
		_ = b.m.ReadPhys(page[:], pa)
		seed = append(seed, page[:]...)
	}
	// The builder's tables start at 16 MiB: the seed's descriptors point
	// there, so the top table is copied to 0x100000 and the rest stays put.
	f.Add(seed, uint64(0xffff800000010123), uint8(0x01))
	f.Add([]byte{3, 0x10, 0x10, 0, 0, 0, 0, 0}, uint64(0xffff000040001000), uint8(0x25))
	f.Fuzz(func(t *testing.T, data []byte, va uint64, sel uint8) {
		if len(data) > 1<<20 {
			return
		}
		m := newFakeMem()
		m.write(0x100000, data)
		m.write(1<<24, data)
		if len(data) == 0 {
			m.write(0x100000, make([]byte, 8))
		}
		shift := []uint{12, 14, 16}[int(sel&3)%3]
		vaBits := []uint{36, 39, 42, 47, 48, 52}[int(sel>>2&7)%6]
		cfg := Config{PageShift: shift, VABits: vaBits, ConfigVABits: vaBits, TopPGD: 0x100000, LPA2: sel&0x80 != 0 && shift != 16}
		tr, err := New(m, cfg)
		if err != nil {
			return
		}
		var tail [8]byte
		copy(tail[:], data)
		for _, a := range []uint64{va, va + 1<<shift, va ^ 1<<21, binary.LittleEndian.Uint64(tail[:])} {
			w, werr := tr.Walk(a)
			for try := range 2 {
				c, cerr := tr.VirtToPhys(a)
				if (werr == nil) != (cerr == nil) || w != c {
					t.Fatalf("%#x try %d: walk %#x %v, cached %#x %v", a, try, w, werr, c, cerr)
				}
			}
			_ = tr.ReadVirt(make([]byte, 24), a-8)
		}
	})
}
