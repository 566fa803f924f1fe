package kcore

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/panicscope/panicscope/vmcore/phys"
	"github.com/panicscope/panicscope/vmcore/vmem"
)

// seg is one PT_LOAD for Build.
type seg struct {
	vaddr, paddr uint64
	data         []byte
}

// Build writes a file laid out like /proc/kcore: ELF header, PT_NOTE, the
// PT_LOADs, the note blob, then each segment's bytes at its p_offset.
func Build(noteBlob []byte, segs []seg) []byte {
	le := binary.LittleEndian
	nph := len(segs) + 1
	eh := make([]byte, ehdrSize)
	copy(eh, "\x7fELF")
	eh[4], eh[5], eh[6] = elfClass64, elfData2LSB, 1
	le.PutUint16(eh[16:], etCore)
	le.PutUint16(eh[18:], emX86_64)
	le.PutUint32(eh[20:], 1)
	le.PutUint64(eh[32:], ehdrSize)
	le.PutUint16(eh[52:], ehdrSize)
	le.PutUint16(eh[54:], phdrSize)
	le.PutUint16(eh[56:], uint16(nph))
	off := uint64(ehdrSize + phdrSize*nph)
	var phs, body []byte
	ph := func(typ uint32, offset, vaddr, paddr, size uint64) {
		p := make([]byte, phdrSize)
		le.PutUint32(p[0:], typ)
		le.PutUint32(p[4:], 7)
		le.PutUint64(p[8:], offset)
		le.PutUint64(p[16:], vaddr)
		le.PutUint64(p[24:], paddr)
		le.PutUint64(p[32:], size)
		le.PutUint64(p[40:], size)
		le.PutUint64(p[48:], 4096)
		phs = append(phs, p...)
	}
	ph(ptNote, off, 0, 0, uint64(len(noteBlob)))
	body = append(body, noteBlob...)
	off += uint64(len(noteBlob))
	for _, s := range segs {
		ph(ptLoad, off, s.vaddr, s.paddr, uint64(len(s.data)))
		body = append(body, s.data...)
		off += uint64(len(s.data))
	}
	return append(append(eh, phs...), body...)
}

// Note encodes one ELF note (name and descriptor padded to 4 bytes).
func Note(name string, typ uint32, desc []byte) []byte {
	le := binary.LittleEndian
	b := make([]byte, 12)
	le.PutUint32(b[0:], uint32(len(name)+1))
	le.PutUint32(b[4:], uint32(len(desc)))
	le.PutUint32(b[8:], typ)
	b = append(b, name...)
	b = append(b, 0)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	b = append(b, desc...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

const (
	textV   = 0xffffffff9a000000
	textP   = 0x1a000000
	directV = 0xffff9c0000000000
	vmallV  = 0xffffb00000000000
)

func fill(n int, b byte) []byte {
	out := make([]byte, n)
	for i := range out {
		out[i] = b + byte(i)
	}
	return out
}

func testFile(t *testing.T) (string, []byte) {
	t.Helper()
	info := "OSRELEASE=6.1.0-56-amd64\nPAGESIZE=4096\nSYMBOL(init_uts_ns)=ffffffff9a001000\n"
	notesBlob := append(Note("CORE", 1, make([]byte, 336)), Note("VMCOREINFO", 0, []byte(info))...)
	img := Build(notesBlob, []seg{
		{textV, textP, fill(8192, 1)},
		{directV, 0, fill(4096, 2)},               // RAM 0..0x1000
		{directV + 0x2000, 0x2000, fill(4096, 3)}, // RAM 0x2000..0x3000
		{directV + 0x3000, 0x3000, fill(4096, 4)}, // adjacent: reads span both
		{vmallV, NoPAddr, fill(4096, 5)},
	})
	p := filepath.Join(t.TempDir(), "kcore")
	if err := os.WriteFile(p, img, 0o600); err != nil {
		t.Fatal(err)
	}
	return p, []byte(info)
}

func openTest(t *testing.T) (*File, []byte) {
	p, info := testFile(t)
	fh, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fh.Close() })
	st, _ := fh.Stat()
	f, err := Open(fh, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	return f, info
}

func TestOpenSegmentsAndNote(t *testing.T) {
	f, info := openTest(t)
	if got := f.VMCOREINFO(); !bytes.Equal(got, info) {
		t.Fatalf("VMCOREINFO = %q, want %q", got, info)
	}
	segs := f.Segments()
	if len(segs) != 5 || segs[0].VAddr != directV || segs[len(segs)-1].VAddr != textV {
		t.Fatalf("segments not sorted by vaddr: %+v", segs)
	}
	if segs[3].HasPhys() {
		t.Errorf("vmalloc segment has a physical address: %+v", segs[3])
	}
}

// TestMachine: x86_64 and arm64 cores open and say which they are.
func TestMachine(t *testing.T) {
	good, _ := testFile(t)
	img, _ := os.ReadFile(good)
	for _, m := range []elf.Machine{elf.EM_X86_64, elf.EM_AARCH64} {
		b := append([]byte(nil), img...)
		binary.LittleEndian.PutUint16(b[18:], uint16(m))
		f, err := Open(bytes.NewReader(b), int64(len(b)))
		if err != nil || f.Machine() != m {
			t.Errorf("%v: %v", m, err)
		}
	}
}

func TestReadVirt(t *testing.T) {
	f, _ := openTest(t)
	buf := make([]byte, 16)
	if err := f.ReadVirt(buf, textV+4096); err != nil {
		t.Fatal(err)
	}
	if want := fill(8192, 1)[4096:4112]; !bytes.Equal(buf, want) {
		t.Errorf("text read = %x, want %x", buf, want)
	}
	// A read spanning two adjacent segments.
	buf = make([]byte, 8)
	if err := f.ReadVirt(buf, directV+0x3000-4); err != nil {
		t.Fatal(err)
	}
	want := append(fill(4096, 3)[4092:], fill(4096, 4)[:4]...)
	if !bytes.Equal(buf, want) {
		t.Errorf("spanning read = %x, want %x", buf, want)
	}
	if err := f.ReadVirt(buf, vmallV+8); err != nil || !bytes.Equal(buf, fill(4096, 5)[8:16]) {
		t.Errorf("vmalloc read = %x, %v", buf, err)
	}
	// A hole between segments and a read running off the end of one.
	for _, a := range []uint64{directV + 0x1000, directV + 0x4000 - 4, 0x1000} {
		err := f.ReadVirt(buf, a)
		var fe *vmem.FaultError
		if !errors.As(err, &fe) || !errors.Is(err, vmem.ErrNotMapped) {
			t.Errorf("ReadVirt(%#x) = %v, want a FaultError wrapping ErrNotMapped", a, err)
		}
	}
}

func TestReadPhys(t *testing.T) {
	f, _ := openTest(t)
	buf := make([]byte, 4)
	if err := f.ReadPhys(buf, textP+2); err != nil || !bytes.Equal(buf, fill(8192, 1)[2:6]) {
		t.Errorf("text phys read = %x, %v", buf, err)
	}
	if err := f.ReadPhys(buf, 0x2ffe); err != nil || !bytes.Equal(buf, append(fill(4096, 3)[4094:], fill(4096, 4)[:2]...)) {
		t.Errorf("spanning phys read = %x, %v", buf, err)
	}
	if err := f.ReadPhys(buf, 0x1000); !phys.IsMissing(err) {
		t.Errorf("phys hole: %v, want MissingError", err)
	}
	r := f.Ranges()
	if len(r) != 3 || r[0] != (phys.Range{Start: 0, End: 0x1000}) || r[1] != (phys.Range{Start: 0x2000, End: 0x4000}) {
		t.Errorf("ranges = %+v", r)
	}
}

func TestOpenRejects(t *testing.T) {
	good, _ := testFile(t)
	img, _ := os.ReadFile(good)
	cases := map[string][]byte{
		"empty":     nil,
		"short":     img[:10],
		"not elf":   append([]byte("KDUMP   "), img[8:]...),
		"truncated": img[:ehdrSize+phdrSize],
	}
	exec := append([]byte(nil), img...)
	binary.LittleEndian.PutUint16(exec[16:], 2) // ET_EXEC
	cases["ET_EXEC"] = exec
	riscv := append([]byte(nil), img...)
	binary.LittleEndian.PutUint16(riscv[18:], 243) // EM_RISCV
	cases["EM_RISCV"] = riscv
	for name, b := range cases {
		f, err := Open(bytes.NewReader(b), int64(len(b)))
		if err == nil || f != nil {
			t.Errorf("%s: Open = %v, %v; want an error and nil", name, f, err)
		}
	}
	if _, err := Open(bytes.NewReader(nil), 0); !errors.Is(err, ErrNotKcore) {
		t.Errorf("empty: %v, want ErrNotKcore", err)
	}
}

// FuzzOpen: hostile input gives an error (and a nil File) or a File whose
// reads do not panic.
func FuzzOpen(f *testing.F) {
	img := Build(Note("VMCOREINFO", 0, []byte("OSRELEASE=x\n")), []seg{{textV, textP, fill(64, 1)}, {vmallV, NoPAddr, fill(64, 2)}})
	f.Add(img)
	f.Add(img[:100])
	f.Fuzz(func(t *testing.T, b []byte) {
		kf, err := Open(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			if kf != nil {
				t.Fatal("error with a non-nil File")
			}
			return
		}
		buf := make([]byte, 32)
		for _, s := range kf.Segments() {
			_ = kf.ReadVirt(buf, s.VAddr)
			_ = kf.ReadVirt(buf, s.VAddr+s.Size-1)
			_ = kf.ReadPhys(buf, s.PAddr)
		}
	})
}
