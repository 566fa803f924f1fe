package flat

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"testing"

	"github.com/panicscope/panicscope/internal/testfixtures"
)

// rec is one record for the synthetic stream writer.
type rec struct {
	off  int64
	data []byte
}

// header returns a struct makedumpfile_header padded to 4 KiB.
func header() []byte {
	h := make([]byte, headerSize)
	copy(h, "makedumpfile")
	binary.BigEndian.PutUint64(h[16:], typeFlatHeader)
	binary.BigEndian.PutUint64(h[24:], 1)
	return h
}

func appendRecHeader(b []byte, off, size int64) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(off))
	return binary.BigEndian.AppendUint64(b, uint64(size))
}

// stream builds a flattened stream the way makedumpfile -F writes one.
func stream(recs []rec, end bool) []byte {
	b := header()
	for _, r := range recs {
		b = appendRecHeader(b, r.off, int64(len(r.data)))
		b = append(b, r.data...)
	}
	if end {
		b = appendRecHeader(b, -1, -1)
	}
	return b
}

// rearrange is the reference: write the records in order into a buffer,
// as makedumpfile -R does into a file.
func rearrange(recs []rec) []byte {
	var out []byte
	for _, r := range recs {
		if len(r.data) == 0 {
			continue // writing nothing does not extend the file
		}
		if end := int(r.off) + len(r.data); end > len(out) {
			out = append(out, make([]byte, end-len(out))...)
		}
		copy(out[r.off:], r.data)
	}
	return out
}

func fill(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i*7)
	}
	return b
}

func open(t testing.TB, data []byte) *Reader {
	t.Helper()
	fr, err := Open(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return fr
}

// checkAll compares every byte and a set of unaligned windows.
func checkAll(t *testing.T, fr *Reader, want []byte) {
	t.Helper()
	if fr.Size() != int64(len(want)) {
		t.Fatalf("Size = %d, want %d", fr.Size(), len(want))
	}
	got := make([]byte, len(want))
	if n, err := fr.ReadAt(got, 0); n != len(want) || (err != nil && err != io.EOF) {
		t.Fatalf("ReadAt all: n=%d err=%v", n, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("rearranged bytes differ")
	}
	for off := 0; off < len(want); off += 3 {
		for _, l := range []int{1, 5, 17, 100} {
			buf := make([]byte, l)
			n, err := fr.ReadAt(buf, int64(off))
			wantN := min(l, len(want)-off)
			if n != wantN {
				t.Fatalf("ReadAt(%d, %d) n=%d want %d", l, off, n, wantN)
			}
			if n < l && err != io.EOF {
				t.Fatalf("short ReadAt without io.EOF: %v", err)
			}
			if n == l && err != nil {
				t.Fatalf("full ReadAt(%d,%d): %v", l, off, err)
			}
			if !bytes.Equal(buf[:n], want[off:off+n]) {
				t.Fatalf("ReadAt(%d, %d) differs", l, off)
			}
		}
	}
}

func TestInOrderWithGaps(t *testing.T) {
	recs := []rec{
		{0, fill(100, 1)},
		{100, fill(50, 2)}, // contiguous with the first: coalesced
		{400, fill(30, 3)}, // gap 150..400 reads as zeros
		{1000, fill(1, 4)},
	}
	fr := open(t, stream(recs, true))
	if fr.Truncated() || fr.Overlapping() {
		t.Fatalf("truncated=%v overlapping=%v", fr.Truncated(), fr.Overlapping())
	}
	if fr.Records() != 4 {
		t.Fatalf("Records = %d", fr.Records())
	}
	checkAll(t, fr, rearrange(recs))
}

func TestOutOfOrder(t *testing.T) {
	// makedumpfile writes the header last-ish and the bitmaps out of order.
	recs := []rec{{4096, fill(4096, 9)}, {0, fill(512, 1)}, {8192, fill(10, 3)}, {2048, fill(100, 5)}}
	checkAll(t, open(t, stream(recs, true)), rearrange(recs))
}

func TestOverlapLastWriterWins(t *testing.T) {
	recs := []rec{
		{0, fill(1000, 1)},
		{100, fill(50, 2)},  // inside the first
		{90, fill(20, 3)},   // straddles the second's start
		{900, fill(300, 4)}, // extends past the end
		{0, fill(10, 5)},    // rewrites the start (a header rewritten at the end)
		{120, fill(5, 6)},   // inside the second, on top of everything
		{2000, fill(10, 7)},
		{1990, fill(30, 8)}, // swallows the previous one entirely
	}
	fr := open(t, stream(recs, true))
	if !fr.Overlapping() {
		t.Fatal("overlap not detected")
	}
	checkAll(t, fr, rearrange(recs))
}

func TestOverlapRandom(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for iter := 0; iter < 300; iter++ {
		var recs []rec
		for i := rng.Intn(20); i >= 0; i-- {
			recs = append(recs, rec{int64(rng.Intn(3000)), fill(rng.Intn(400), byte(rng.Intn(256)))})
		}
		want := rearrange(recs)
		fr := open(t, stream(recs, true))
		got := make([]byte, len(want))
		n, err := fr.ReadAt(got, 0)
		if n != len(want) || (err != nil && err != io.EOF) || !bytes.Equal(got, want) || fr.Size() != int64(len(want)) {
			t.Fatalf("iteration %d: n=%d err=%v size=%d want %d", iter, n, err, fr.Size(), len(want))
		}
	}
}

func TestTruncated(t *testing.T) {
	recs := []rec{{0, fill(100, 1)}, {200, fill(100, 2)}}
	full := stream(recs, true)
	// No end marker.
	fr := open(t, stream(recs, false))
	if !fr.Truncated() {
		t.Fatal("missing end marker not reported")
	}
	checkAll(t, fr, rearrange(recs))
	// Cut in the middle of the second record's data: its first 40 bytes stay.
	cut := full[:headerSize+16+100+16+40]
	fr = open(t, cut)
	if !fr.Truncated() {
		t.Fatal("cut record not reported")
	}
	checkAll(t, fr, rearrange([]rec{recs[0], {200, recs[1].data[:40]}}))
	// Cut inside a record header.
	fr = open(t, full[:headerSize+16+100+7])
	checkAll(t, fr, rearrange(recs[:1]))
	// Header only.
	fr = open(t, full[:headerSize])
	if fr.Size() != 0 || !fr.Truncated() {
		t.Fatalf("header-only: size=%d truncated=%v", fr.Size(), fr.Truncated())
	}
	if n, err := fr.ReadAt(make([]byte, 1), 0); n != 0 || err != io.EOF {
		t.Fatalf("ReadAt on empty: %d %v", n, err)
	}
}

func TestNotFlattened(t *testing.T) {
	for _, data := range [][]byte{nil, []byte("KDUMP   "), []byte("makedumpfilX\x00\x00\x00\x00"), bytes.Repeat([]byte{0}, 8192)} {
		if _, err := Open(bytes.NewReader(data), int64(len(data))); !errors.Is(err, ErrNotFlattened) {
			t.Errorf("%q: err = %v, want ErrNotFlattened", data[:min(len(data), 16)], err)
		}
	}
}

func TestHostile(t *testing.T) {
	bad := func(name string, b []byte) {
		t.Helper()
		if _, err := Open(bytes.NewReader(b), int64(len(b))); err == nil || errors.Is(err, ErrNotFlattened) {
			t.Errorf("%s: err = %v, want a format error", name, err)
		}
	}
	bad("short header", header()[:100])
	h := header()
	binary.BigEndian.PutUint64(h[16:], 2)
	bad("wrong type", h)
	bad("negative offset", appendRecHeader(header(), -5, 1))
	bad("negative size", appendRecHeader(header(), 0, -2))
	bad("size beyond file", append(appendRecHeader(header(), 0, 1<<40), 1, 2, 3))
	bad("offset overflow", append(appendRecHeader(header(), 1<<63-2, 8), make([]byte, 8)...))
	// A huge offset with a small record is fine: nothing is allocated for it.
	b := append(appendRecHeader(header(), 1<<50, 4), 1, 2, 3, 4)
	fr := open(t, b)
	if fr.Size() != 1<<50+4 {
		t.Fatalf("Size = %#x", fr.Size())
	}
	got := make([]byte, 8)
	if n, err := fr.ReadAt(got, 1<<50-4); n != 8 || err != nil || !bytes.Equal(got, []byte{0, 0, 0, 0, 1, 2, 3, 4}) {
		t.Fatalf("ReadAt near huge offset: %d %v %v", n, err, got)
	}
	if _, err := fr.ReadAt(got, -1); err == nil {
		t.Fatal("negative ReadAt offset accepted")
	}
}

// TestManyRecordsScanWindow crosses the 64 KiB scan window many times.
func TestManyRecordsScanWindow(t *testing.T) {
	var recs []rec
	for i := 0; i < 3000; i++ {
		recs = append(recs, rec{int64(i) * 97, fill(i%150, byte(i))})
	}
	checkAll(t, open(t, stream(recs, true)), rearrange(recs))
}

// shortReader returns fewer bytes than size promised.
type shortReader struct{ *bytes.Reader }

func TestUnderlyingShorterThanSize(t *testing.T) {
	data := stream([]rec{{0, fill(100, 1)}}, true)
	fr, err := Open(shortReader{bytes.NewReader(data)}, int64(len(data))+1000)
	if err != nil {
		t.Fatal(err)
	}
	checkAll(t, fr, fill(100, 1))
}

func TestRealFlattenedEqualsVmcore(t *testing.T) {
	dir := filepath.Join(testfixtures.Dir(t), "kdump-6.1-zlib-postnotifiers")
	want, err := os.ReadFile(filepath.Join(dir, "vmcore"))
	if err != nil {
		t.Skipf("fixture: %v", err)
	}
	f, err := os.Open(filepath.Join(dir, "vmcore.flat"))
	if err != nil {
		t.Skipf("fixture: %v", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	fr, err := Open(f, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d records, %d segments, overlapping=%v, truncated=%v, size=%d", fr.Records(), len(fr.segs), fr.Overlapping(), fr.Truncated(), fr.Size())
	if fr.Truncated() {
		t.Error("real stream reported truncated")
	}
	if fr.Size() != int64(len(want)) {
		t.Fatalf("Size = %d, vmcore is %d", fr.Size(), len(want))
	}
	got := make([]byte, len(want))
	if n, err := fr.ReadAt(got, 0); n != len(got) || err != nil {
		t.Fatalf("ReadAt: %d %v", n, err)
	}
	if !bytes.Equal(got, want) {
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("first difference at %#x", i)
			}
		}
	}
	// Random unaligned windows, as the diskdump reader will issue them.
	rng := rand.New(rand.NewSource(2))
	for i := 0; i < 2000; i++ {
		off := rng.Int63n(int64(len(want)))
		buf := make([]byte, rng.Intn(9000))
		n, _ := fr.ReadAt(buf, off)
		if !bytes.Equal(buf[:n], want[off:off+int64(n)]) || n != min(len(buf), len(want)-int(off)) {
			t.Fatalf("window %#x+%d differs", off, len(buf))
		}
	}
}

func FuzzOpen(f *testing.F) {
	f.Add(stream([]rec{{0, fill(10, 1)}, {5, fill(10, 2)}}, true), int64(0), uint16(20))
	f.Add(stream([]rec{{100, fill(10, 1)}, {0, fill(300, 2)}, {50, nil}}, false), int64(40), uint16(300))
	f.Add(header(), int64(0), uint16(1))
	f.Fuzz(func(t *testing.T, data []byte, off int64, l uint16) {
		fr, err := Open(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		buf := make([]byte, l)
		n, err := fr.ReadAt(buf, off)
		if n > len(buf) || (n < len(buf) && err == nil) {
			t.Fatalf("ReadAt n=%d len=%d err=%v", n, len(buf), err)
		}
		// Differential check against writing the records in order, when
		// the rearranged file is small enough to build.
		if fr.Size() > 1<<20 {
			return
		}
		recs, ok := naiveRecords(data)
		if !ok {
			t.Fatalf("Open accepted a stream the reference parser rejects")
		}
		want := rearrange(recs)
		got := make([]byte, len(want))
		if n, err := fr.ReadAt(got, 0); n != len(want) || (err != nil && err != io.EOF) || !bytes.Equal(got, want) {
			t.Fatalf("differs from reference (n=%d err=%v size=%d want %d)", n, err, fr.Size(), len(want))
		}
	})
}

// naiveRecords is a deliberately simple parser for the fuzz reference.
func naiveRecords(data []byte) ([]rec, bool) {
	var recs []rec
	off := headerSize
	for off+16 <= len(data) {
		dst := int64(binary.BigEndian.Uint64(data[off:]))
		n := int64(binary.BigEndian.Uint64(data[off+8:]))
		if dst == -1 {
			break
		}
		if dst < 0 || n < 0 {
			return nil, false
		}
		off += 16
		if n > int64(len(data)-off) {
			n = int64(len(data) - off)
		}
		recs = append(recs, rec{dst, data[off : off+int(n)]})
		off += int(n)
	}
	return recs, true
}
