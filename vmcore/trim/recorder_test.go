package trim

import (
	"bytes"
	"errors"
	"maps"
	"slices"
	"sync"
	"testing"

	"github.com/panicscope/panicscope/vmcore/notes"
	"github.com/panicscope/panicscope/vmcore/phys"
)

// pageMem holds pages 0..9 except 5 (excluded) and 7 (beyond the end);
// page 8 is corrupt.
type pageMem struct{}

var errCorrupt = errors.New("corrupt")

func (pageMem) ReadPhys(buf []byte, paddr uint64) error {
	for i := range buf {
		a := paddr + uint64(i)
		switch a / phys.PageSize {
		case 5:
			return &phys.MissingError{Addr: a, Reason: phys.Excluded}
		case 7:
			return &phys.MissingError{Addr: a, Reason: phys.BeyondEnd}
		case 8:
			return errCorrupt
		}
		if a >= 10*phys.PageSize {
			return &phys.MissingError{Addr: a, Reason: phys.NotInDump}
		}
		buf[i] = byte(a / phys.PageSize)
	}
	return nil
}

func (pageMem) Ranges() []phys.Range { return []phys.Range{{Start: 0, End: 5 * phys.PageSize}} }

func TestRecorder(t *testing.T) {
	r := NewRecorder(pageMem{})
	read := func(paddr uint64, n int) error {
		t.Helper()
		buf := make([]byte, n)
		err := r.ReadPhys(buf, paddr)
		if err == nil && n > 0 && buf[0] != byte(paddr/phys.PageSize) {
			t.Fatal("content not passed through")
		}
		return err
	}
	if err := read(0x10, 8); err != nil { // pfn 0
		t.Fatal(err)
	}
	if err := read(0x1ff8, 16); err != nil { // pfns 1 and 2
		t.Fatal(err)
	}
	if err := read(3*phys.PageSize, 3*phys.PageSize); !phys.IsMissing(err) { // 3, 4 read; 5 missing
		t.Fatalf("err = %v", err)
	}
	if err := read(7*phys.PageSize+100, 8); !phys.IsMissing(err) { // 7 missing
		t.Fatalf("err = %v", err)
	}
	if err := read(8*phys.PageSize, 8); !errors.Is(err, errCorrupt) { // nothing recorded
		t.Fatalf("err = %v", err)
	}
	if err := read(12*phys.PageSize, 8); !phys.IsMissing(err) {
		t.Fatalf("err = %v", err)
	}
	if err := read(0, 0); err != nil {
		t.Fatal(err)
	}
	if got, want := r.PFNs(), []uint64{0, 1, 2, 3, 4}; !slices.Equal(got, want) {
		t.Fatalf("PFNs = %v, want %v", got, want)
	}
	want := map[uint64]phys.MissingReason{5: phys.Excluded, 7: phys.BeyondEnd, 12: phys.NotInDump}
	if got := r.Missing(); !maps.Equal(got, want) {
		t.Fatalf("Missing = %v, want %v", got, want)
	}
	if len(r.Ranges()) != 1 {
		t.Fatal("Ranges not passed through")
	}
}

// A read ending at the top of the address space must not loop.
func TestRecorderTopOfAddressSpace(t *testing.T) {
	r := NewRecorder(topMem{})
	if err := r.ReadPhys(make([]byte, 16), ^uint64(0)-15); err != nil {
		t.Fatal(err)
	}
	if got := r.PFNs(); len(got) != 1 || got[0] != ^uint64(0)/phys.PageSize {
		t.Fatalf("PFNs = %x", got)
	}
}

type topMem struct{}

func (topMem) ReadPhys([]byte, uint64) error { return nil }

func TestRecorderConcurrent(t *testing.T) {
	r := NewRecorder(pageMem{})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				buf := make([]byte, 64)
				_ = r.ReadPhys(buf, uint64((g+i)%5)*phys.PageSize+uint64(i))
			}
		})
	}
	wg.Wait()
	if got := r.PFNs(); !slices.Equal(got, []uint64{0, 1, 2, 3, 4}) {
		t.Fatalf("PFNs = %v", got)
	}
}

func TestEncodeNotesRoundTrip(t *testing.T) {
	in := []notes.Note{
		{Name: "CORE", Type: notes.NT_PRSTATUS, Desc: bytes.Repeat([]byte{1}, 336)},
		{Name: "QEMU", Type: 0, Desc: []byte{1, 2, 3, 4, 5}},
		{Name: "VMCOREINFO", Type: 0, Desc: []byte("OSRELEASE=6.1\n")},
	}
	raw := encodeNotes(in)
	if len(raw)%4 != 0 {
		t.Fatalf("%d bytes, not 4-aligned", len(raw))
	}
	out, err := notes.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != len(in) {
		t.Fatalf("%d notes back, want %d", len(out), len(in))
	}
	for i := range in {
		if out[i].Name != in[i].Name || out[i].Type != in[i].Type || !bytes.Equal(out[i].Desc, in[i].Desc) {
			t.Fatalf("note %d: %+v, want %+v", i, out[i], in[i])
		}
	}
}
