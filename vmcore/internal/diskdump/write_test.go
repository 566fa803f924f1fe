package diskdump

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/panicscope/panicscope/vmcore/notes"
	"github.com/panicscope/panicscope/vmcore/phys"
)

// rawNote encodes one ELF note (name and descriptor padded to 4 bytes).
func rawNote(name string, typ uint32, desc []byte) []byte {
	var b bytes.Buffer
	var h [12]byte
	binary.LittleEndian.PutUint32(h[0:], uint32(len(name)+1))
	binary.LittleEndian.PutUint32(h[4:], uint32(len(desc)))
	binary.LittleEndian.PutUint32(h[8:], typ)
	b.Write(h[:])
	b.WriteString(name)
	b.WriteByte(0)
	for b.Len()%4 != 0 {
		b.WriteByte(0)
	}
	b.Write(desc)
	for b.Len()%4 != 0 {
		b.WriteByte(0)
	}
	return b.Bytes()
}

func writeOpts(comp string) WriteOptions {
	return WriteOptions{
		MaxMapnr:    200,
		UTSName:     UTSName{Sysname: "Linux", Release: "6.1.0-test", Machine: "x86_64"},
		Timestamp:   Timeval{Sec: 1700000000, Usec: 250000},
		NrCPUs:      2,
		CurrentCPU:  1,
		PhysBase:    0x3c00000,
		DumpLevel:   31,
		Compression: comp,
	}
}

func writeBytes(t *testing.T, w *Writer) ([]byte, WriteStats) {
	t.Helper()
	var out bytes.Buffer
	st, err := w.Write(&out)
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
	if st.Bytes != int64(out.Len()) {
		t.Fatalf("stats say %d bytes, wrote %d", st.Bytes, out.Len())
	}
	return out.Bytes(), st
}

func TestWriteRoundTrip(t *testing.T) {
	info := []byte("OSRELEASE=6.1.0-test\nPAGESIZE=4096\nNUMBER(phys_base)=0\n")
	prstatus := make([]byte, 336)
	binary.LittleEndian.PutUint32(prstatus[32:], 77) // pr_pid
	allNotes := append(rawNote("CORE", notes.NT_PRSTATUS, prstatus), rawNote("VMCOREINFO", 0, info)...)
	for _, comp := range []string{"zlib", "zstd", "snappy", "none"} {
		t.Run(comp, func(t *testing.T) {
			opt := writeOpts(comp)
			opt.Notes = allNotes
			opt.VMCOREINFO = info
			w, err := NewWriter(opt)
			if err != nil {
				t.Fatal(err)
			}
			w.SetExists(0, 64)
			w.SetExists(100, 160)
			kept := map[uint64][]byte{}
			for _, pfn := range []uint64{3, 1, 2, 40, 63, 100, 150, 199} {
				kept[pfn] = content(bs, pfn)
			}
			kept[7] = make([]byte, bs) // zero pages share one copy
			kept[8] = make([]byte, bs)
			random := make([]byte, bs) // incompressible: stored raw
			rand.NewChaCha8([32]byte{1}).Read(random)
			kept[9] = random
			for pfn, data := range kept {
				if err := w.AddPage(pfn, data); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.AddLost(50); err != nil {
				t.Fatal(err)
			}
			b, st := writeBytes(t, w)
			if st.Pages != len(kept) || st.ZeroPages != 2 || st.LostPages != 1 {
				t.Fatalf("stats %+v", st)
			}
			if st.Existing != 64+60+1 { // pfn 199 exists through AddPage
				t.Fatalf("existing = %d", st.Existing)
			}
			f := openBytes(t, b)
			for pfn, data := range kept {
				got := make([]byte, bs)
				if err := f.ReadPhys(got, pfn*bs); err != nil {
					t.Fatalf("pfn %d: %v", pfn, err)
				}
				if !bytes.Equal(got, data) {
					t.Fatalf("pfn %d: content differs", pfn)
				}
			}
			buf := make([]byte, 8)
			missing(t, f.ReadPhys(buf, 4*bs+8), 4*bs+8, phys.Excluded)
			missing(t, f.ReadPhys(buf, 120*bs), 120*bs, phys.Excluded)
			missing(t, f.ReadPhys(buf, 70*bs), 70*bs, phys.NotInDump)
			missing(t, f.ReadPhys(buf, 180*bs), 180*bs, phys.NotInDump)
			missing(t, f.ReadPhys(buf, 250*bs), 250*bs, phys.NotInDump)
			missing(t, f.ReadPhys(buf, 50*bs), 50*bs, phys.BeyondEnd)
			// A read across a kept and an excluded page names the first
			// missing byte.
			missing(t, f.ReadPhys(make([]byte, 2*bs), 3*bs), 4*bs, phys.Excluded)

			if v := f.VMCOREINFO(); !bytes.Equal(v, info) {
				t.Fatalf("VMCOREINFO = %q", v)
			}
			if n := f.Notes(); !bytes.Equal(n, allNotes) {
				t.Fatalf("notes differ")
			}
			h := f.Header()
			// makedumpfile points offset_vmcoreinfo inside the notes.
			if h.Sub.OffsetVMCOREINFO <= h.Sub.OffsetNote || h.Sub.OffsetVMCOREINFO >= h.Sub.OffsetNote+h.Sub.SizeNote {
				t.Fatalf("VMCOREINFO at %#x, notes at %#x+%#x", h.Sub.OffsetVMCOREINFO, h.Sub.OffsetNote, h.Sub.SizeNote)
			}
			if h.Signature != "KDUMP   " || h.Version != 6 || h.BlockSize != bs || h.MaxMapnr != 200 ||
				h.NrCPUs != 2 || h.CurrentCPU != 1 || h.Sub.PhysBase != 0x3c00000 || f.DumpLevel() != 31 ||
				h.UTSName.Release != "6.1.0-test" || h.UTSName.Machine != "x86_64" ||
				h.Timestamp != (Timeval{1700000000, 250000}) || f.Incomplete() || f.Truncated() {
				t.Fatalf("header %+v", h)
			}
			wantComp := comp
			if comp != "none" {
				wantComp += "+none" // the random page is stored raw
			}
			if got := f.Compression(); got != wantComp {
				t.Fatalf("Compression = %q, want %q", got, wantComp)
			}
			if f.DumpedPages() != uint64(len(kept)+1) {
				t.Fatalf("DumpedPages = %d", f.DumpedPages())
			}
			wantEx := []phys.Range{{Start: 0, End: 64 * bs}, {Start: 100 * bs, End: 160 * bs}, {Start: 199 * bs, End: 200 * bs}}
			if got, err := f.ExistingRanges(); err != nil || !equalRanges(got, wantEx) {
				t.Fatalf("ExistingRanges = %v", got)
			}
			if len(f.Warnings()) != 0 {
				t.Fatalf("warnings: %v", f.Warnings())
			}
		})
	}
}

// A VMCOREINFO that is not one of the notes (found by a memory scan) is
// stored after them.
func TestWriteSeparateVMCOREINFO(t *testing.T) {
	opt := writeOpts("")
	opt.Notes = rawNote("QEMU", 0, make([]byte, 40))
	opt.VMCOREINFO = []byte("OSRELEASE=6.1.0-scan\n")
	w, err := NewWriter(opt)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.AddPage(5, content(bs, 5)); err != nil {
		t.Fatal(err)
	}
	b, _ := writeBytes(t, w)
	f := openBytes(t, b)
	if !bytes.Equal(f.VMCOREINFO(), opt.VMCOREINFO) || !bytes.Equal(f.Notes(), opt.Notes) {
		t.Fatalf("VMCOREINFO %q, notes %q", f.VMCOREINFO(), f.Notes())
	}
	if h := f.Header(); h.Sub.OffsetVMCOREINFO != h.Sub.OffsetNote+h.Sub.SizeNote || h.Status != StatusCompressedZlib {
		t.Fatalf("header %+v", h)
	}
}

func TestWriteNoNotesIncomplete(t *testing.T) {
	opt := writeOpts("zlib")
	opt.Incomplete = true
	w, err := NewWriter(opt)
	if err != nil {
		t.Fatal(err)
	}
	b, st := writeBytes(t, w)
	if st.Pages != 0 {
		t.Fatalf("stats %+v", st)
	}
	f := openBytes(t, b)
	if f.VMCOREINFO() != nil || f.Notes() != nil || !f.Incomplete() {
		t.Fatal("empty dump: unexpected blobs or status")
	}
	missing(t, f.ReadPhys(make([]byte, 1), 0), 0, phys.NotInDump)
}

// Large sub-header blobs take several blocks; many pages cross bitmap
// blocks (4096 pfns per block of 512 bytes).
func TestWriteLargeLayout(t *testing.T) {
	opt := writeOpts("zstd")
	opt.BlockSize = 512
	opt.MaxMapnr = 20000
	opt.VMCOREINFO = []byte("OSRELEASE=x\n" + strings.Repeat("SYMBOL(a)=ffffffff81000000\n", 100))
	w, err := NewWriter(opt)
	if err != nil {
		t.Fatal(err)
	}
	w.SetExists(10, 19990)
	want := map[uint64][]byte{}
	for pfn := uint64(3); pfn < 20000; pfn += 97 {
		want[pfn] = content(512, pfn)
		if err := w.AddPage(pfn, want[pfn]); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := writeBytes(t, w)
	f := openBytes(t, b)
	for pfn, data := range want {
		got := make([]byte, 512)
		if err := f.ReadPhys(got, pfn*512); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("pfn %d: %v", pfn, err)
		}
	}
	missing(t, f.ReadPhys(make([]byte, 1), 4*512), 4*512, phys.NotInDump)
	missing(t, f.ReadPhys(make([]byte, 1), 4*512+97*512*30+512), 4*512+97*512*30+512, phys.Excluded)
	if !bytes.Equal(f.VMCOREINFO(), opt.VMCOREINFO) {
		t.Fatal("VMCOREINFO lost")
	}
}

func TestWriteErrors(t *testing.T) {
	for _, opt := range []WriteOptions{
		{MaxMapnr: 0},
		{MaxMapnr: 10, BlockSize: 1000},
		{MaxMapnr: 10, Compression: "lzo"},
	} {
		if _, err := NewWriter(opt); err == nil {
			t.Errorf("NewWriter(%+v) succeeded", opt)
		}
	}
	w, err := NewWriter(WriteOptions{MaxMapnr: 10})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.AddPage(10, make([]byte, bs)); err == nil {
		t.Error("page beyond max_mapnr accepted")
	}
	if err := w.AddPage(1, make([]byte, 100)); err == nil {
		t.Error("short page accepted")
	}
	if err := w.AddLost(11); err == nil {
		t.Error("lost page beyond max_mapnr accepted")
	}
	if _, err := w.Write(failWriter{}); err == nil || !errors.Is(err, errFail) {
		t.Errorf("write error = %v", err)
	}
}

var errFail = errors.New("disk full")

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errFail }
