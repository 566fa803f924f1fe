package elfcore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"sync"
	"testing"

	"github.com/panicscope/panicscope/vmcore/notes"
	"github.com/panicscope/panicscope/vmcore/phys"
)

// testSeg is one PT_LOAD for buildCore: data is what goes into the file
// (p_filesz = len(data)); memsz 0 means len(data).
type testSeg struct {
	vaddr, paddr uint64
	data         []byte
	memsz        uint64
}

// buildCore writes a minimal ELF64 little-endian ET_CORE EM_X86_64 file: the
// header, PT_NOTE (when noteBlob is not nil) then the PT_LOADs, the note
// blob, then each segment's data in order, unaligned like makedumpfile -E.
func buildCore(noteBlob []byte, segs []testSeg) []byte {
	le := binary.LittleEndian
	nph := len(segs)
	if noteBlob != nil {
		nph++
	}
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
	ph := func(typ uint32, offset, vaddr, paddr, filesz, memsz uint64) {
		p := make([]byte, phdrSize)
		le.PutUint32(p[0:], typ)
		le.PutUint32(p[4:], 7)
		le.PutUint64(p[8:], offset)
		le.PutUint64(p[16:], vaddr)
		le.PutUint64(p[24:], paddr)
		le.PutUint64(p[32:], filesz)
		le.PutUint64(p[40:], memsz)
		phs = append(phs, p...)
	}
	if noteBlob != nil {
		ph(ptNote, off, 0, 0, uint64(len(noteBlob)), uint64(len(noteBlob)))
		body = append(body, noteBlob...)
		off += uint64(len(noteBlob))
	}
	for _, s := range segs {
		memsz := s.memsz
		if memsz == 0 {
			memsz = uint64(len(s.data))
		}
		ph(ptLoad, off, s.vaddr, s.paddr, uint64(len(s.data)), memsz)
		body = append(body, s.data...)
		off += uint64(len(s.data))
	}
	out := append(eh, phs...)
	return append(out, body...)
}

func appendNote(b []byte, name string, typ uint32, desc []byte) []byte {
	le := binary.LittleEndian
	b = le.AppendUint32(b, uint32(len(name)+1))
	b = le.AppendUint32(b, uint32(len(desc)))
	b = le.AppendUint32(b, typ)
	b = append(b, name...)
	b = append(b, make([]byte, (len(name)+4)&^3-len(name))...)
	b = append(b, desc...)
	return append(b, make([]byte, (len(desc)+3)&^3-len(desc))...)
}

// prstatus builds an x86_64 struct elf_prstatus: pr_pid at 32, pr_reg
// (user_regs_struct) at 112: rip is register 16, rsp 19.
func prstatus(pid uint32, rip, rsp uint64) []byte {
	d := make([]byte, notes.PRStatusSize)
	binary.LittleEndian.PutUint32(d[32:], pid)
	binary.LittleEndian.PutUint64(d[112+16*8:], rip)
	binary.LittleEndian.PutUint64(d[112+19*8:], rsp)
	return d
}

// pattern returns n bytes that differ per position and per seed.
func pattern(seed byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed ^ byte(i) ^ byte(i>>8)*7
	}
	return b
}

func open(t *testing.T, img []byte) *File {
	t.Helper()
	f, err := Open(bytes.NewReader(img), int64(len(img)))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func wantMissing(t *testing.T, err error, addr uint64, reason phys.MissingReason) {
	t.Helper()
	var me *phys.MissingError
	if !errors.As(err, &me) {
		t.Fatalf("want *phys.MissingError{%#x, %v}, got %v", addr, reason, err)
	}
	if me.Addr != addr || me.Reason != reason {
		t.Fatalf("got MissingError{%#x, %v}, want {%#x, %v}", me.Addr, me.Reason, addr, reason)
	}
}

const directMap = 0xffff888000000000

func TestReadAcrossContiguousSegments(t *testing.T) {
	a, b := pattern(0xa0, 0x1000), pattern(0xb0, 0x2000)
	f := open(t, buildCore(nil, []testSeg{
		{vaddr: directMap + 0x1000, paddr: 0x1000, data: a},
		{vaddr: directMap + 0x2000, paddr: 0x2000, data: b},
	}))
	buf := make([]byte, 0x1000)
	if err := f.ReadPhys(buf, 0x1800); err != nil {
		t.Fatal(err)
	}
	want := append(append([]byte(nil), a[0x800:]...), b[:0x800]...)
	if !bytes.Equal(buf, want) {
		t.Fatal("read across the segment boundary returned the wrong bytes")
	}
	// Past the end of the second segment: the first missing byte is named.
	wantMissing(t, f.ReadPhys(make([]byte, 0x20), 0x3ff0), 0x4000, phys.NotInDump)
	wantMissing(t, f.ReadPhys(make([]byte, 1), 0), 0, phys.NotInDump)
	if err := f.ReadPhys(nil, 0x99999999); err != nil {
		t.Fatalf("empty read: %v", err)
	}
	if got := f.Ranges(); len(got) != 1 || got[0] != (phys.Range{Start: 0x1000, End: 0x4000}) {
		t.Fatalf("Ranges = %v", got)
	}
	if f.Style() != StyleKdump {
		t.Fatalf("Style = %v, want kdump", f.Style())
	}
}

func TestExcludedTail(t *testing.T) {
	data := pattern(0xc0, 0x1000)
	f := open(t, buildCore(nil, []testSeg{
		{vaddr: directMap + 0x10000, paddr: 0x10000, data: data, memsz: 0x3000},
		{vaddr: directMap + 0x20000, paddr: 0x20000, data: nil, memsz: 0x5000}, // all filtered, p_offset past the data
		{vaddr: directMap + 0x30000, paddr: 0x30000, data: pattern(1, 0x100)},
	}))
	buf := make([]byte, 0x20)
	wantMissing(t, f.ReadPhys(buf, 0x10ff0), 0x11000, phys.Excluded)
	if !bytes.Equal(buf[:0x10], data[0xff0:]) {
		t.Fatal("bytes before the excluded tail not filled")
	}
	wantMissing(t, f.ReadPhys(buf, 0x12fff), 0x12fff, phys.Excluded)
	wantMissing(t, f.ReadPhys(buf, 0x13000), 0x13000, phys.NotInDump)
	wantMissing(t, f.ReadPhys(buf, 0x24000), 0x24000, phys.Excluded)
	wantMissing(t, f.ReadPhys(buf, 0x25000), 0x25000, phys.NotInDump)
	want := []phys.Range{{Start: 0x10000, End: 0x11000}, {Start: 0x30000, End: 0x30100}}
	if got := f.Ranges(); len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("Ranges = %v, want %v", got, want)
	}
}

func TestTruncatedFile(t *testing.T) {
	a, b := pattern(0xa0, 0x1000), pattern(0xb0, 0x1000)
	img := buildCore(nil, []testSeg{
		{paddr: 0x1000, vaddr: 0x1000, data: a},
		{paddr: 0x2000, vaddr: 0x2000, data: b, memsz: 0x2000},
	})
	img = img[:len(img)-0x400] // lose the last 0x400 bytes of b
	f := open(t, img)
	buf := make([]byte, 0x1800)
	if err := f.ReadPhys(buf[:0xc00], 0x2000); err != nil {
		t.Fatalf("read before the cut: %v", err)
	}
	wantMissing(t, f.ReadPhys(buf, 0x1800), 0x2c00, phys.BeyondEnd)
	if !bytes.Equal(buf[:0x800], a[0x800:]) || !bytes.Equal(buf[0x800:0x1400], b[:0xc00]) {
		t.Fatal("bytes before the cut not filled")
	}
	wantMissing(t, f.ReadPhys(buf, 0x2fff), 0x2fff, phys.BeyondEnd)
	wantMissing(t, f.ReadPhys(buf, 0x3000), 0x3000, phys.Excluded) // the tail is still "filtered"
	if got := f.Ranges(); len(got) != 1 || got[0] != (phys.Range{Start: 0x1000, End: 0x2c00}) {
		t.Fatalf("Ranges = %v", got)
	}
	if f.Style() != StyleQEMU {
		t.Fatalf("Style = %v, want qemu (physical vaddrs)", f.Style())
	}

	// A segment whose p_offset lies wholly past the end.
	img = buildCore(nil, []testSeg{{paddr: 0x5000, data: pattern(2, 0x100)}})
	f = open(t, img[:len(img)-0x100])
	wantMissing(t, f.ReadPhys(buf[:1], 0x5000), 0x5000, phys.BeyondEnd)
	if len(f.Ranges()) != 0 {
		t.Fatalf("Ranges = %v, want none", f.Ranges())
	}
}

func TestDirectMapWinsOverKernelText(t *testing.T) {
	text, direct := pattern(0x11, 0x2000), pattern(0x22, 0x2000)
	f := open(t, buildCore(nil, []testSeg{
		// makedumpfile -E order: the kernel text PT_LOAD first.
		{vaddr: 0xffffffff81000000, paddr: 0x100000, data: text},
		{vaddr: directMap + 0x0ff000, paddr: 0x0ff000, data: direct[:0x1000]},                // covers the text's first page only partly: [0xff000, 0x100000)
		{vaddr: directMap + 0x100000, paddr: 0x100000, data: direct[:0x1000], memsz: 0x2000}, // second page filtered
	}))
	buf := make([]byte, 0x2000)
	if err := f.ReadPhys(buf, 0x100000); err != nil {
		t.Fatal(err)
	}
	// The direct-map segment serves its data; where it has only an excluded
	// tail, the text segment's bytes are used.
	if !bytes.Equal(buf[:0x1000], direct[:0x1000]) {
		t.Fatal("direct-map segment did not win over kernel text")
	}
	if !bytes.Equal(buf[0x1000:], text[0x1000:]) {
		t.Fatal("kernel-text bytes not used where the direct-map segment has none")
	}
	if err := f.ReadPhys(buf, 0xff800); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf[:0x800], direct[0x800:0x1000]) || !bytes.Equal(buf[0x800:0x1800], direct[:0x1000]) {
		t.Fatal("read from 0xff800 wrong")
	}
	if got := f.Ranges(); len(got) != 1 || got[0] != (phys.Range{Start: 0xff000, End: 0x102000}) {
		t.Fatalf("Ranges = %v", got)
	}
}

func TestNotesRoundTrip(t *testing.T) {
	const info = "OSRELEASE=6.1.0-56-amd64\nPAGESIZE=4096\n"
	var blob []byte
	blob = appendNote(blob, "CORE", notes.NT_PRSTATUS, prstatus(0, 0xffffffff81c592eb, 0xffffffff82c03e98))
	blob = appendNote(blob, "CORE", notes.NT_PRSTATUS, prstatus(121, 0xffffffff813741ba, 0xffffcedbc04138f0))
	blob = appendNote(blob, "VMCOREINFO", 0, []byte(info))
	f := open(t, buildCore(blob, []testSeg{{vaddr: 0xffffffff81000000, paddr: 0x1000000, data: pattern(3, 64)}}))
	ns := f.Notes()
	if len(ns) != 3 {
		t.Fatalf("%d notes, want 3", len(ns))
	}
	ps, err := notes.PRStatuses(ns)
	if err != nil || len(ps) != 2 {
		t.Fatalf("PRStatuses: %d, %v", len(ps), err)
	}
	if ps[1].Pid != 121 || ps[1].Regs.IP() != 0xffffffff813741ba || ps[1].Regs.SP() != 0xffffcedbc04138f0 ||
		ps[0].Pid != 0 || ps[0].Regs.IP() != 0xffffffff81c592eb {
		t.Fatalf("prstatus round trip: %+v %+v", ps[0], ps[1])
	}
	if got := notes.FindVMCOREINFO(ns); string(got) != info {
		t.Fatalf("VMCOREINFO = %q", got)
	}
	if f.Style() != StyleKdump {
		t.Fatalf("Style = %v", f.Style())
	}
	// A QEMU note makes it QEMU style.
	blob = appendNote(blob, "QEMU", 0, make([]byte, notes.QEMUCPUStateSizeKGS))
	if f := open(t, buildCore(blob, []testSeg{{vaddr: 0xffffffff81000000, paddr: 0x1000000, data: pattern(3, 64)}})); f.Style() != StyleQEMU {
		t.Fatalf("Style with a QEMU note = %v", f.Style())
	}
	// User-space-looking vaddrs and no QEMU note: unknown.
	if f := open(t, buildCore(nil, []testSeg{{vaddr: 0x400000, paddr: 0x1000, data: pattern(3, 64)}})); f.Style() != StyleUnknown {
		t.Fatalf("Style = %v, want unknown", f.Style())
	}
}

func TestSegmentsAccessor(t *testing.T) {
	f := open(t, buildCore(nil, []testSeg{
		{vaddr: directMap + 0x5000, paddr: 0x5000, data: pattern(1, 0x10), memsz: 0x1000},
		{vaddr: directMap + 0x1000, paddr: 0x1000, data: pattern(1, 0x20)},
	}))
	segs := f.Segments()
	if len(segs) != 2 || segs[0].PAddr != 0x5000 || segs[0].FileSize != 0x10 || segs[0].MemSize != 0x1000 ||
		segs[1].VAddr != directMap+0x1000 || segs[1].Offset != segs[0].Offset+0x10 {
		t.Fatalf("Segments = %+v", segs)
	}
	segs[0].PAddr = 0 // a copy
	if f.Segments()[0].PAddr != 0x5000 {
		t.Fatal("Segments returned the internal slice")
	}
}

func TestPNXNum(t *testing.T) {
	img := buildCore(nil, []testSeg{{vaddr: 0x1000, paddr: 0x1000, data: pattern(5, 0x100)}})
	le := binary.LittleEndian
	le.PutUint16(img[56:], pnXNum)
	sh := make([]byte, shdrSize)
	le.PutUint32(sh[44:], 1) // sh_info = real e_phnum
	le.PutUint64(img[40:], uint64(len(img)))
	le.PutUint16(img[58:], shdrSize)
	le.PutUint16(img[60:], 1)
	img = append(img, sh...)
	f := open(t, img)
	if len(f.Segments()) != 1 {
		t.Fatalf("Segments = %+v", f.Segments())
	}
	// Without the section header it is an error.
	le.PutUint64(img[40:], 0)
	if _, err := Open(bytes.NewReader(img), int64(len(img))); err == nil {
		t.Fatal("PN_XNUM without section header accepted")
	}
}

func TestOpenErrors(t *testing.T) {
	good := buildCore(appendNote(nil, "CORE", 1, prstatus(1, 2, 3)), []testSeg{{vaddr: 0x1000, paddr: 0x1000, data: pattern(1, 0x100)}})
	le := binary.LittleEndian
	mod := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	notCore := map[string][]byte{
		"empty":    nil,
		"short":    []byte("\x7fEL"),
		"kdump":    []byte("KDUMP   \x06\x00\x00\x00"),
		"ET_EXEC":  mod(func(b []byte) []byte { le.PutUint16(b[16:], 2); return b }),
		"ET_DYN":   mod(func(b []byte) []byte { le.PutUint16(b[16:], 3); return b }),
		"no magic": mod(func(b []byte) []byte { b[1] = 'X'; return b }),
	}
	for name, img := range notCore {
		f, err := Open(bytes.NewReader(img), int64(len(img)))
		if !errors.Is(err, ErrNotELFCore) || f != nil {
			t.Errorf("%s: Open = %v, %v; want ErrNotELFCore", name, f, err)
		}
	}
	unsupported := map[string][]byte{
		"ELFCLASS32": mod(func(b []byte) []byte { b[4] = 1; return b }),
		"big endian": mod(func(b []byte) []byte { b[5] = 2; return b }),
		"EM_386":     mod(func(b []byte) []byte { le.PutUint16(b[18:], 3); return b }),
	}
	for name, img := range unsupported {
		f, err := Open(bytes.NewReader(img), int64(len(img)))
		if !errors.Is(err, ErrUnsupported) || f != nil {
			t.Errorf("%s: Open = %v, %v; want ErrUnsupported", name, f, err)
		}
	}
	const ph0, ph1 = ehdrSize, ehdrSize + phdrSize // PT_NOTE, PT_LOAD
	bad := map[string][]byte{
		"truncated header": good[:40],
		"phnum 0":          mod(func(b []byte) []byte { le.PutUint16(b[56:], 0); return b }),
		"phnum too big":    mod(func(b []byte) []byte { le.PutUint16(b[56:], 0xfffe); return b }),
		"phoff past end":   mod(func(b []byte) []byte { le.PutUint64(b[32:], 1<<62); return b }),
		"phentsize small":  mod(func(b []byte) []byte { le.PutUint16(b[54:], 32); return b }),
		"note past end":    mod(func(b []byte) []byte { le.PutUint64(b[ph0+8:], uint64(len(b))-4); return b }),
		"note huge":        mod(func(b []byte) []byte { le.PutUint64(b[ph0+32:], 1<<63); return b }),
		"note malformed":   mod(func(b []byte) []byte { le.PutUint32(b[le.Uint64(b[ph0+8:]):], 1<<30); return b }),
		"filesz > memsz":   mod(func(b []byte) []byte { le.PutUint64(b[ph1+40:], 0x10); return b }),
		"paddr overflow":   mod(func(b []byte) []byte { le.PutUint64(b[ph1+24:], ^uint64(0)-0x10); return b }),
		"offset overflow":  mod(func(b []byte) []byte { le.PutUint64(b[ph1+8:], ^uint64(0)-0x10); return b }),
	}
	for name, img := range bad {
		f, err := Open(bytes.NewReader(img), int64(len(img)))
		if err == nil || f != nil {
			t.Errorf("%s: Open = %v, %v; want an error", name, f, err)
		}
	}
	if _, err := Open(bytes.NewReader(good), -1); err == nil {
		t.Error("negative size accepted")
	}
}

func TestConcurrentReads(t *testing.T) {
	var segs []testSeg
	for i := 0; i < 64; i++ {
		segs = append(segs, testSeg{vaddr: directMap + uint64(i)*0x2000, paddr: uint64(i) * 0x2000, data: pattern(byte(i), 0x1000), memsz: 0x2000})
	}
	f := open(t, buildCore(nil, segs))
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 0x100)
			for i := 0; i < 64; i++ {
				if err := f.ReadPhys(buf, uint64(i)*0x2000+0x80); err != nil || !bytes.Equal(buf, segs[i].data[0x80:0x180]) {
					t.Errorf("segment %d: %v", i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func FuzzOpen(f *testing.F) {
	var blob []byte
	blob = appendNote(blob, "CORE", notes.NT_PRSTATUS, prstatus(1, 2, 3))
	blob = appendNote(blob, "VMCOREINFO", 0, []byte("OSRELEASE=6.1\n"))
	f.Add(buildCore(blob, []testSeg{
		{vaddr: 0xffffffff81000000, paddr: 0x1000, data: pattern(1, 0x40), memsz: 0x100},
		{vaddr: directMap + 0x1000, paddr: 0x1000, data: pattern(2, 0x80)},
		{vaddr: directMap + 0x2000, paddr: 0x2000, data: nil, memsz: 0x1000},
	}))
	f.Add(buildCore(nil, []testSeg{{paddr: 0, data: pattern(3, 0x30)}, {paddr: 0x30, data: pattern(4, 0x30)}}))
	f.Add([]byte("\x7fELF"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ef, err := Open(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			if ef != nil {
				t.Fatalf("error %v with a File", err)
			}
			return
		}
		_ = ef.Notes()
		_ = ef.Style()
		buf := make([]byte, 0x90)
		for _, s := range ef.Segments() {
			for _, a := range []uint64{s.PAddr, s.PAddr + s.FileSize - 1, s.PAddr + s.MemSize - 1, s.PAddr + s.MemSize} {
				err := ef.ReadPhys(buf, a)
				if err != nil && !phys.IsMissing(err) {
					t.Fatalf("ReadPhys(%#x): %v", a, err)
				}
			}
		}
		for _, r := range ef.Ranges() {
			if r.End <= r.Start {
				t.Fatalf("empty range %v", r)
			}
			if err := ef.ReadPhys(buf[:1], r.Start); err != nil {
				t.Fatalf("range start %#x unreadable: %v", r.Start, err)
			}
			if err := ef.ReadPhys(buf[:1], r.End-1); err != nil {
				t.Fatalf("range end %#x unreadable: %v", r.End-1, err)
			}
		}
	})
}
