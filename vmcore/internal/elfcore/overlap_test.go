package elfcore

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/panicscope/panicscope/vmcore/phys"
)

// bruteLookup is lookup's rule applied to every segment: the reference the
// index must agree with.
func (f *File) bruteLookup(addr uint64) (seg, kind int) {
	seg = -1
	bestText := false
	for si, in := range f.info {
		if addr < f.segs[si].PAddr || addr >= in.memEnd {
			continue
		}
		k := kindExcluded
		switch {
		case addr < in.dataEnd:
			k = kindData
		case addr < in.fileEnd:
			k = kindTruncated
		}
		if seg < 0 || k < kind || (k == kind && !in.text && bestText) {
			seg, kind, bestText = si, k, in.text
		}
	}
	return seg, kind
}

// TestOverlapIndexMatchesRule checks the piece index against the rule on
// random overlapping segments (data, excluded tails, kernel-text copies,
// a file cut short).
func TestOverlapIndexMatchesRule(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := 0; round < 200; round++ {
		var segs []testSeg
		for i := 0; i < 1+rng.IntN(12); i++ {
			s := testSeg{paddr: uint64(rng.IntN(64)) * 16, data: pattern(byte(i), rng.IntN(5)*16)}
			s.memsz = uint64(len(s.data)) + uint64(rng.IntN(4))*16
			if rng.IntN(3) == 0 {
				s.vaddr = startKernelMap + s.paddr
			}
			if s.memsz == 0 {
				s.memsz = 16
			}
			segs = append(segs, s)
		}
		img := buildCore(nil, segs)
		img = img[:len(img)-rng.IntN(min(len(img)-ehdrSize-phdrSize*len(segs), 64)+1)]
		f, err := Open(bytes.NewReader(img), int64(len(img)))
		if err != nil {
			t.Fatal(err)
		}
		for addr := uint64(0); addr < 64*16+200; addr++ {
			ws, wk := f.bruteLookup(addr)
			gs, gk, end := f.lookup(addr)
			if gs != ws || (ws >= 0 && gk != wk) {
				t.Fatalf("round %d addr %#x: lookup = seg %d kind %d, rule says seg %d kind %d", round, addr, gs, gk, ws, wk)
			}
			if gs >= 0 {
				if end <= addr {
					t.Fatalf("round %d addr %#x: run ends at %#x", round, addr, end)
				}
				if es, ek := f.bruteLookup(end - 1); es != gs || ek != gk {
					t.Fatalf("round %d addr %#x: run to %#x is not served the same way", round, addr, end)
				}
			}
		}
	}
}

// TestManyOverlappingLoads: a million PT_LOADs covering the same memory
// used to make every read scan them all.
func TestManyOverlappingLoads(t *testing.T) {
	const n = 1 << 20
	le := binary.LittleEndian
	img := make([]byte, ehdrSize+n*phdrSize+shdrSize+phys.PageSize)
	copy(img, "\x7fELF")
	img[4], img[5], img[6] = elfClass64, elfData2LSB, 1
	le.PutUint16(img[16:], etCore)
	le.PutUint16(img[18:], emX86_64)
	le.PutUint64(img[32:], ehdrSize)
	le.PutUint16(img[54:], phdrSize)
	le.PutUint16(img[56:], pnXNum)
	shoff := uint64(ehdrSize + n*phdrSize)
	le.PutUint64(img[40:], shoff)
	le.PutUint16(img[58:], shdrSize)
	le.PutUint16(img[60:], 1)
	le.PutUint32(img[shoff+44:], n)
	data := shoff + shdrSize
	for i := uint64(0); i < n; i++ {
		p := img[ehdrSize+i*phdrSize:]
		le.PutUint32(p[0:], ptLoad)
		le.PutUint64(p[8:], data)
		le.PutUint64(p[24:], 0)     // p_paddr
		le.PutUint64(p[40:], 1<<30) // p_memsz: all excluded...
		if i == n-1 {
			le.PutUint64(p[32:], phys.PageSize) // ...but the last one's first page
		}
	}
	copy(img[data:], "the page")
	f, err := Open(bytes.NewReader(img), int64(len(img)))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	buf := make([]byte, 8)
	for i := uint64(0); i < 100000; i++ {
		a := i * 4096 % (1 << 30)
		err := f.ReadPhys(buf, a)
		if a == 0 {
			if err != nil || string(buf) != "the page" {
				t.Fatalf("page 0: %q, %v", buf, err)
			}
			continue
		}
		wantMissing(t, err, a, phys.Excluded)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("100000 reads took %v", d)
	}
}
