package diskdump

import (
	"bytes"
	"encoding/binary"
	"errors"
	"runtime"
	"strings"
	"testing"

	"github.com/panicscope/panicscope/vmcore/internal/flat"
	"github.com/panicscope/panicscope/vmcore/phys"
)

// flatten writes recs ({offset, data}) as a makedumpfile flattened stream.
func flatten(recs ...flatRec) []byte {
	out := make([]byte, 4096)
	copy(out, "makedumpfile\x00")
	binary.BigEndian.PutUint64(out[16:], 1) // TYPE_FLAT_HEADER
	binary.BigEndian.PutUint64(out[24:], 1)
	for _, r := range recs {
		out = binary.BigEndian.AppendUint64(out, uint64(r.off))
		out = binary.BigEndian.AppendUint64(out, uint64(len(r.data)))
		out = append(out, r.data...)
	}
	out = binary.BigEndian.AppendUint64(out, ^uint64(0))
	return binary.BigEndian.AppendUint64(out, ^uint64(0))
}

type flatRec struct {
	off  int64
	data []byte
}

// allocDuring returns the bytes allocated while fn ran.
func allocDuring(fn func()) uint64 {
	var a, b runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&a)
	fn()
	runtime.ReadMemStats(&b)
	return b.TotalAlloc - a.TotalAlloc
}

// TestFlatStreamHugeBitmaps: an 8 KB flattened stream whose header claims
// 2^32 bitmap blocks and whose last record lies far away used to make Open
// allocate 2 GiB for the bitmaps (the rearranged file's size is the
// furthest record's end). Bitmaps are read on demand now, and the parts no
// record stored are not read at all.
func TestFlatStreamHugeBitmaps(t *testing.T) {
	s := mixed()
	file := build(s)
	hdr := bytes.Clone(file[:2*bs])
	le := binary.LittleEndian
	le.PutUint32(hdr[436:], 0xffffffff) // bitmap_blocks
	le.PutUint64(hdr[bs+96:], 1<<62)    // max_mapnr_64
	stream := flatten(flatRec{0, hdr}, flatRec{1 << 46, []byte("farfar!!")})
	if len(stream) > 16<<10 {
		t.Fatalf("stream is %d bytes", len(stream))
	}
	fr, err := flat.Open(bytes.NewReader(stream), int64(len(stream)))
	if err != nil {
		t.Fatal(err)
	}
	var f *File
	n := allocDuring(func() { f, err = Open(fr, fr.Size()) })
	if n > 16<<20 {
		t.Errorf("Open allocated %d MiB", n>>20)
	}
	if err != nil {
		return // an error is fine too
	}
	if f.maxPFN > maxPFNs {
		t.Errorf("maxPFN %#x beyond %#x", f.maxPFN, uint64(maxPFNs))
	}
	// No bitmap bit was stored: every pfn is absent.
	buf := make([]byte, 8)
	for _, pfn := range []uint64{0, 1, 1 << 30, f.maxPFN - 1} {
		if err := f.ReadPhys(buf, pfn*bs); !phys.IsMissing(err) {
			t.Errorf("pfn %#x: %v, want missing", pfn, err)
		}
	}
	if r := f.Ranges(); len(r) != 0 {
		t.Errorf("Ranges = %v", r)
	}
}

// TestHugeMaxMapnrSmallFile: max_mapnr_64 with a high bit flipped in a
// real-sized file keeps the bitmaps the file holds; memory stays small.
func TestHugeMaxMapnrSmallFile(t *testing.T) {
	s := mixed()
	file := build(s)
	le := binary.LittleEndian
	le.PutUint64(file[bs+96:], 1<<60|s.maxMapnr)
	var f *File
	n := allocDuring(func() { f = openBytes(t, file) })
	if n > 4<<20 {
		t.Errorf("Open allocated %d KiB", n>>10)
	}
	want := openBytes(t, build(s))
	if got, w := f.Ranges(), want.Ranges(); !equalRanges(got, w) {
		t.Errorf("Ranges = %v, want %v", got, w)
	}
}

// TestBitmapBlocksAndIndex checks rank and test across several index
// blocks against a plain count, with bits set near block edges.
func TestBitmapBlocksAndIndex(t *testing.T) {
	const nbits = 5*32768 + 77
	raw := make([]byte, (nbits+7)/8+100) // trailing garbage past nbits
	for i := range raw[(nbits+7)/8:] {
		raw[(nbits+7)/8+i] = 0xff
	}
	set := map[uint64]bool{}
	for _, p := range []uint64{0, 1, 63, 64, 32767, 32768, 32769, 65535, 3 * 32768, nbits - 1} {
		set[p] = true
		raw[p/8] |= 1 << (p % 8)
	}
	raw[(nbits-1)/8] |= byte(0xff << ((nbits - 1) % 8) & 0xff) // bits past nbits in the last byte
	m := newBitmap(bytes.NewReader(raw), 0, nbits)
	if err := m.indexRank(); err != nil {
		t.Fatal(err)
	}
	var n uint64
	for p := uint64(0); p < nbits+10; p++ {
		r, err := m.rank(p)
		if err != nil || r != n {
			t.Fatalf("rank(%d) = %d, %v, want %d", p, r, err, n)
		}
		ok, err := m.test(p)
		if err != nil || ok != set[p] {
			t.Fatalf("test(%d) = %v, %v", p, ok, err)
		}
		if set[p] {
			n++
		}
	}
}

// TestCutSays checks where Cut places the first missing page for files
// cut at every descriptor and inside the data, against reading each page.
func TestCutSays(t *testing.T) {
	s := mixed()
	full := build(s)
	whole := openBytes(t, full)
	if _, ok := whole.Cut(); ok {
		t.Fatal("the whole file reports a cut")
	}
	descEnd := whole.descBase + int64(whole.descCount)*descSize
	for size := whole.descBase; size < int64(len(full)); size += 7 {
		f := openBytes(t, full[:size])
		c, ok := f.Cut()
		if !ok {
			t.Fatalf("cut at %d: not reported", size)
		}
		if c.FileSize != size || c.NeedAtLeast < min(descEnd, int64(len(full))) || c.NeedAtLeast > int64(len(full)) {
			t.Errorf("cut at %d: %+v (file %d bytes, descriptors end at %d)", size, c, len(full), descEnd)
		}
		if !c.HasFirst || c.PagesAtMost == 0 || c.PagesAtMost > f.descCount {
			t.Fatalf("cut at %d: %+v", size, c)
		}
		// The first missing page is missing; those before it (but zero
		// pages' shared copy) read.
		if err := f.ReadPhys(make([]byte, 8), c.FirstMissingPFN*bs); !phys.IsMissing(err) {
			t.Errorf("cut at %d: first missing pfn %d reads: %v", size, c.FirstMissingPFN, err)
		}
		for _, p := range s.pages {
			if p.pfn < c.FirstMissingPFN {
				if err := f.ReadPhys(make([]byte, 8), p.pfn*bs); err != nil {
					t.Errorf("cut at %d: pfn %d before the first missing %d: %v", size, p.pfn, c.FirstMissingPFN, err)
				}
			}
		}
	}
}

// TestUnsupportedLayouts: a 32-bit (i386/arm) or big-endian header is an
// "unsupported: ..." error naming the machine, not a bad block size.
func TestUnsupportedLayouts(t *testing.T) {
	le := binary.LittleEndian
	mk := func(machine string) []byte {
		b := make([]byte, 3*bs)
		copy(b, "KDUMP   ")
		le.PutUint32(b[8:], 6)
		copy(b[12+4*65:], machine)
		return b
	}
	i386 := mk("i686")
	le.PutUint32(i386[404:], 1700000000) // tv_sec
	le.PutUint32(i386[412:], 0)          // status
	le.PutUint32(i386[416:], 4096)       // block_size
	le.PutUint32(i386[420:], 1)          // sub_hdr_size
	le.PutUint32(i386[424:], 2)          // bitmap_blocks
	be := mk("ppc64")
	binary.BigEndian.PutUint32(be[428:], 65536)
	for name, b := range map[string][]byte{"i686": i386, "ppc64": be} {
		_, err := Open(bytes.NewReader(b), int64(len(b)))
		if !errors.Is(err, ErrUnsupported) || !strings.HasPrefix(err.Error(), "unsupported: ") || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestFlatMissingRecord: a flattened stream lacking the record that holds a
// page's data gives that page as missing (beyond the end), not corrupt.
func TestFlatMissingRecord(t *testing.T) {
	s := mixed()
	file := build(s)
	whole := openBytes(t, file)
	d, err := whole.readDesc(whole.descCount - 1) // pfn 63, the last page
	if err != nil {
		t.Fatal(err)
	}
	// Everything but the last page's data, in two records.
	stream := flatten(flatRec{0, file[:d.offset]}, flatRec{d.offset + int64(d.size), file[d.offset+int64(d.size):]})
	fr, err := flat.Open(bytes.NewReader(stream), int64(len(stream)))
	if err != nil {
		t.Fatal(err)
	}
	f, err := Open(fr, fr.Size())
	if err != nil {
		t.Fatal(err)
	}
	missing(t, f.ReadPhys(make([]byte, 8), 63*bs), 63*bs, phys.BeyondEnd)
	if err := f.ReadPhys(make([]byte, 8), 0); err != nil {
		t.Fatalf("pfn 0: %v", err)
	}
}
