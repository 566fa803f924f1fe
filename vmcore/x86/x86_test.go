package x86

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/panicscope/panicscope/vmcore/phys"
	"github.com/panicscope/panicscope/vmcore/vmcoreinfo"
	"github.com/panicscope/panicscope/vmcore/vmem"
)

// fakeMem is a sparse, page-granular phys.Memory: absent pages are
// *phys.MissingError, like a dump with pages left out.
type fakeMem struct {
	mu    sync.Mutex
	pages map[uint64]*[pageSize]byte
	next  uint64 // bump allocator for page tables
	reads int
}

func newFakeMem() *fakeMem {
	return &fakeMem{pages: make(map[uint64]*[pageSize]byte), next: 0x100000}
}

func (m *fakeMem) ReadPhys(buf []byte, paddr uint64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reads++
	for len(buf) > 0 {
		p, ok := m.pages[paddr>>pageShift]
		if !ok {
			return &phys.MissingError{Addr: paddr, Reason: phys.NotInDump}
		}
		n := copy(buf, p[paddr&(pageSize-1):])
		buf = buf[n:]
		paddr += uint64(n)
	}
	return nil
}

func (m *fakeMem) page(paddr uint64) *[pageSize]byte {
	p, ok := m.pages[paddr>>pageShift]
	if !ok {
		p = new([pageSize]byte)
		m.pages[paddr>>pageShift] = p
	}
	return p
}

func (m *fakeMem) write(paddr uint64, data []byte) {
	for len(data) > 0 {
		n := copy(m.page(paddr)[paddr&(pageSize-1):], data)
		data = data[n:]
		paddr += uint64(n)
	}
}

func (m *fakeMem) put64(paddr, v uint64) {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], v)
	m.write(paddr, b[:])
}

func (m *fakeMem) get64(paddr uint64) uint64 {
	return binary.LittleEndian.Uint64(m.page(paddr)[paddr&(pageSize-1):])
}

func (m *fakeMem) allocTable() uint64 {
	pa := m.next
	m.next += pageSize
	m.page(pa)
	return pa
}

// pt builds page tables in a fakeMem.
type pt struct {
	m      *fakeMem
	top    uint64
	levels int
	flags  uint64 // extra bits set in every entry (NX, SME, software bits)
}

func newPT(m *fakeMem, levels int) *pt {
	return &pt{m: m, top: m.allocTable(), levels: levels}
}

// mapPage maps va → pa with a leaf of size 4 KiB, 2 MiB or 1 GiB.
func (p *pt) mapPage(va, pa, size uint64) {
	leafLevel := map[uint64]int{4 << 10: 1, 2 << 20: 2, 1 << 30: 3}[size]
	table := p.top
	for level := p.levels; ; level-- {
		shift := uint(pageShift + 9*(level-1))
		slot := table + (va>>shift&511)*8
		if level == leafLevel {
			e := pa | pagePresent | 0x2 | p.flags
			if level > 1 {
				e |= pagePSE
			}
			p.m.put64(slot, e)
			return
		}
		e := p.m.get64(slot)
		if e&pagePresent == 0 {
			e = p.m.allocTable() | pagePresent | 0x2 | 0x20 | p.flags
			p.m.put64(slot, e)
		}
		table = e & physAddrMask &^ p.flags
	}
}

// tableFor returns the physical address of the level-`level` table on
// va's path (level == p.levels is the top).
func (p *pt) tableFor(va uint64, level int) uint64 {
	table := p.top
	for l := p.levels; l > level; l-- {
		shift := uint(pageShift + 9*(l-1))
		table = p.m.get64(table+(va>>shift&511)*8) & physAddrMask &^ p.flags
	}
	return table
}

func u64(v int64) uint64 { return uint64(v) }

func mustNew(t testing.TB, m phys.Memory, cfg Config) *Translator {
	t.Helper()
	tr, err := New(m, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func wantNotMapped(t *testing.T, err error, va uint64) {
	t.Helper()
	var fe *vmem.FaultError
	if !errors.As(err, &fe) {
		t.Fatalf("err = %v, want *vmem.FaultError", err)
	}
	if fe.VAddr != va {
		t.Errorf("fault VAddr = %#x, want %#x", fe.VAddr, va)
	}
	if !errors.Is(err, vmem.ErrNotMapped) {
		t.Errorf("err = %v, want it to wrap vmem.ErrNotMapped", err)
	}
	if phys.IsMissing(err) {
		t.Errorf("err = %v wraps a MissingError, want not-mapped", err)
	}
}

func wantMissing(t *testing.T, err error, va, pa uint64) {
	t.Helper()
	var fe *vmem.FaultError
	if !errors.As(err, &fe) {
		t.Fatalf("err = %v, want *vmem.FaultError", err)
	}
	if fe.VAddr != va {
		t.Errorf("fault VAddr = %#x, want %#x", fe.VAddr, va)
	}
	var me *phys.MissingError
	if !errors.As(err, &me) {
		t.Fatalf("err = %v, want it to wrap *phys.MissingError", err)
	}
	if me.Addr != pa {
		t.Errorf("missing physical %#x, want %#x", me.Addr, pa)
	}
}

const (
	vmallocVA = 0xffffc90000123000 // 4-level VMALLOC_START + something
	dataPA    = 0x5000000
)

func TestWalk4K(t *testing.T) {
	m := newFakeMem()
	p := newPT(m, 4)
	p.flags = 1<<63 | 1<<52 | 1<<58 // NX and software bits must be masked off
	p.mapPage(vmallocVA, dataPA, 4<<10)
	m.write(dataPA+0x123, []byte("hello"))
	tr := mustNew(t, m, Config{TopPGD: p.top | 0x18 | 1<<63, Levels: 4}) // CR3-style flag bits
	pa, err := tr.Translate(vmallocVA + 0x123)
	if err != nil || pa != dataPA+0x123 {
		t.Fatalf("Translate = %#x, %v; want %#x", pa, err, dataPA+0x123)
	}
	buf := make([]byte, 5)
	if err := tr.ReadVirt(buf, vmallocVA+0x123); err != nil || string(buf) != "hello" {
		t.Fatalf("ReadVirt = %q, %v", buf, err)
	}
	// Second time through the cache.
	if pa, err := tr.VirtToPhys(vmallocVA + 0x123); err != nil || pa != dataPA+0x123 {
		t.Fatalf("VirtToPhys = %#x, %v", pa, err)
	}
}

func TestHugePages(t *testing.T) {
	m := newFakeMem()
	p := newPT(m, 4)
	const (
		va2M = 0xffffc90000400000
		pa2M = 0x40000000
		va1G = 0xffffc98040000000
		pa1G = 0x80000000
	)
	p.mapPage(va2M, pa2M|1<<12, 2<<20) // bit 12 is the huge-page PAT bit, not address
	p.mapPage(va1G, pa1G|1<<12, 1<<30)
	tr := mustNew(t, m, Config{TopPGD: p.top, Levels: 4})
	for _, c := range []struct{ va, pa uint64 }{
		{va2M, pa2M},
		{va2M + 0x1ff123, pa2M + 0x1ff123},
		{va1G + 0x3ffff001, pa1G + 0x3ffff001},
		{va1G + 0x1234567, pa1G + 0x1234567},
	} {
		if pa, err := tr.Translate(c.va); err != nil || pa != c.pa {
			t.Errorf("Translate(%#x) = %#x, %v; want %#x", c.va, pa, err, c.pa)
		}
	}
	// A read across a 4 KiB boundary inside the 2 MiB page is one physical read.
	m.write(pa2M+0xffe, []byte("abcd"))
	buf := make([]byte, 4)
	m.reads = 0
	if err := tr.ReadVirt(buf, va2M+0xffe); err != nil || string(buf) != "abcd" {
		t.Fatalf("ReadVirt = %q, %v", buf, err)
	}
	if m.reads != 3+1 { // PGD, PUD, PMD entries + 1 data read
		t.Errorf("%d physical reads, want 4", m.reads)
	}
}

func TestWalk5Level(t *testing.T) {
	m := newFakeMem()
	p := newPT(m, 5)
	const va = 0xff7f123456789000 // canonical only with 57-bit addresses
	p.mapPage(va, dataPA, 4<<10)
	p.mapPage(0xffa0000000200000, 0x200000, 2<<20)
	tr := mustNew(t, m, Config{TopPGD: p.top, Levels: 5})
	if pa, err := tr.Translate(va + 0xabc); err != nil || pa != dataPA+0xabc {
		t.Fatalf("Translate = %#x, %v", pa, err)
	}
	if pa, err := tr.Translate(0xffa0000000200000 + 0x1234); err != nil || pa != 0x201234 {
		t.Fatalf("Translate 2M = %#x, %v", pa, err)
	}
	// The same address is non-canonical with 4 levels.
	tr4 := mustNew(t, m, Config{TopPGD: p.top, Levels: 4})
	_, err := tr4.Translate(va)
	wantNotMapped(t, err, va)
}

func TestNotPresent(t *testing.T) {
	m := newFakeMem()
	p := newPT(m, 4)
	p.mapPage(vmallocVA, dataPA, 4<<10)
	tr := mustNew(t, m, Config{TopPGD: p.top, Levels: 4})
	for _, va := range []uint64{
		vmallocVA + pageSize,  // PTE not present
		vmallocVA + 2<<20,     // PMD not present
		vmallocVA + 1<<30,     // PUD not present
		0xffffd00000000000,    // PGD not present
		0x0000000000400000,    // user half, nothing there
		0xffffffffff600000,    // vsyscall page, not mapped here
		StartKernelMap - 4096, // just below the image, walked
	} {
		_, err := tr.Translate(va)
		wantNotMapped(t, err, va)
		err = tr.ReadVirt(make([]byte, 8), va)
		wantNotMapped(t, err, va)
	}
	_, err := tr.Translate(vmallocVA + pageSize)
	if want := "PTE entry"; !bytes.Contains([]byte(err.Error()), []byte(want)) {
		t.Errorf("error %q does not name the level (%q)", err, want)
	}
}

func TestMissingPageTable(t *testing.T) {
	m := newFakeMem()
	p := newPT(m, 4)
	p.mapPage(vmallocVA, dataPA, 4<<10)
	pmd := p.tableFor(vmallocVA, 2)
	delete(m.pages, pmd>>pageShift) // the PMD page is not in the dump
	tr := mustNew(t, m, Config{TopPGD: p.top, Levels: 4})
	_, err := tr.Translate(vmallocVA)
	wantMissing(t, err, vmallocVA, pmd+(vmallocVA>>21&511)*8)
	if errors.Is(err, vmem.ErrNotMapped) {
		t.Errorf("missing table reported as not mapped: %v", err)
	}
	err = tr.ReadVirt(make([]byte, 8), vmallocVA)
	wantMissing(t, err, vmallocVA, pmd+(vmallocVA>>21&511)*8)
}

func TestMissingDataPage(t *testing.T) {
	m := newFakeMem()
	p := newPT(m, 4)
	p.mapPage(vmallocVA, dataPA, 4<<10) // dataPA never written: absent
	tr := mustNew(t, m, Config{TopPGD: p.top, Levels: 4})
	if pa, err := tr.Translate(vmallocVA + 8); err != nil || pa != dataPA+8 {
		t.Fatalf("Translate = %#x, %v (translation needs no data page)", pa, err)
	}
	err := tr.ReadVirt(make([]byte, 8), vmallocVA+8)
	wantMissing(t, err, vmallocVA+8, dataPA+8)
}

func TestReadCrossIntoUnmapped(t *testing.T) {
	m := newFakeMem()
	p := newPT(m, 4)
	p.mapPage(vmallocVA, dataPA, 4<<10)
	m.write(dataPA, bytes.Repeat([]byte{0xaa}, pageSize))
	tr := mustNew(t, m, Config{TopPGD: p.top, Levels: 4})
	err := tr.ReadVirt(make([]byte, 32), vmallocVA+pageSize-16)
	wantNotMapped(t, err, vmallocVA+pageSize)

	// Mapped next page whose frame is missing: the fault is its first byte.
	p.mapPage(vmallocVA+pageSize, dataPA+0x10000, 4<<10)
	tr = mustNew(t, m, Config{TopPGD: p.top, Levels: 4})
	err = tr.ReadVirt(make([]byte, 32), vmallocVA+pageSize-16)
	wantMissing(t, err, vmallocVA+pageSize, dataPA+0x10000)

	// Crossing into a mapped, present page works and joins the bytes.
	m.write(dataPA+0x10000, []byte("next"))
	buf := make([]byte, 20)
	if err := tr.ReadVirt(buf, vmallocVA+pageSize-16); err != nil || string(buf[16:]) != "next" || buf[0] != 0xaa {
		t.Fatalf("ReadVirt = %x, %v", buf, err)
	}
}

func TestNonCanonical(t *testing.T) {
	m := newFakeMem()
	p := newPT(m, 4)
	tr := mustNew(t, m, Config{TopPGD: p.top, Levels: 4, PageOffset: DefaultPageOffset4, PhysBase: 0x1000000})
	for _, va := range []uint64{0x0000800000000000, 0xffff7fffffffffff, 0x8000000000000000} {
		_, err := tr.Translate(va)
		wantNotMapped(t, err, va)
		_, err = tr.VirtToPhys(va)
		wantNotMapped(t, err, va)
		wantNotMapped(t, tr.ReadVirt(make([]byte, 1), va), va)
	}
}

// kernelLayout builds a 4- or 5-level address space like a booted kernel:
// the image at phys_base with 2 MiB pages, a direct map of 64 MiB (4 KiB
// pages for the first 2 MiB, 2 MiB pages after) at pageOffset, one
// vmalloc page.
type kernelLayout struct {
	m          *fakeMem
	p          *pt
	physBase   uint64
	pageOffset uint64
	text       uint64 // _text
}

func newKernelLayout(levels int, physBase, kaslr, pageOffset uint64) *kernelLayout {
	m := newFakeMem()
	p := newPT(m, levels)
	k := &kernelLayout{m: m, p: p, physBase: physBase, pageOffset: pageOffset, text: 0xffffffff81000000 + kaslr}
	for off := uint64(0); off < 64<<20; off += 2 << 20 {
		va := k.text + off
		p.mapPage(va, KernelTextToPhys(va, physBase), 2<<20)
	}
	for off := uint64(0); off < 2<<20; off += pageSize {
		p.mapPage(pageOffset+off, off, 4<<10)
	}
	for off := uint64(2 << 20); off < 64<<20; off += 2 << 20 {
		p.mapPage(pageOffset+off, off, 2<<20)
	}
	return k
}

func TestCachedTranslationAgreesWithWalk(t *testing.T) {
	for _, c := range []struct {
		levels             int
		physBase, kaslr, o uint64
	}{
		{4, 0, 0, DefaultPageOffset4},
		{4, u64(-629145600), 0x25800000, 0xffff8da780000000},
		{5, 0x2000000, 0x27600000, 0xff2b6fe640000000},
	} {
		t.Run(fmt.Sprint(c.levels, "-level"), func(t *testing.T) {
			k := newKernelLayout(c.levels, c.physBase, c.kaslr, c.o)
			cfg := Config{TopPGD: k.p.top, Levels: c.levels, PhysBase: c.physBase, KASLROffset: c.kaslr, PageOffset: c.o}
			tr := mustNew(t, k.m, cfg)
			check := func(va, want uint64) {
				w, werr := tr.Translate(va) // always walks
				f, ferr := tr.VirtToPhys(va)
				if werr != nil || ferr != nil || w != f || f != want {
					t.Errorf("%#x: walk %#x %v, cached %#x %v, want %#x", va, w, werr, f, ferr, want)
				}
			}
			for pass := 0; pass < 2; pass++ { // the second pass hits the caches
				for off := uint64(0); off < 64<<20; off += 0x1ff3 {
					check(k.text+off, KernelTextToPhys(k.text+off, c.physBase))
					check(c.o+off, off)
				}
			}
			// Past the mapped image, inside the image range, and beyond it:
			// not mapped, although __pa() would answer.
			for _, va := range []uint64{k.text + 64<<20, k.text + 64<<20 + 0x1234, StartKernelMap + 1<<30 + 0x1000} {
				_, err := tr.VirtToPhys(va)
				wantNotMapped(t, err, va)
				wantNotMapped(t, tr.ReadVirt(make([]byte, 8), va), va)
			}
			// Past the mapped direct map: not mapped, although __va()
			// arithmetic would answer.
			_, err := tr.VirtToPhys(c.o + 64<<20)
			wantNotMapped(t, err, c.o+64<<20)
		})
	}
}

// TestImageTailNotMapped is the kdump-6.1-lzo case: the kernel image range
// [__START_KERNEL_map, +KERNEL_IMAGE_SIZE) is mapped with 2 MiB pages up to
// a little past _end (cleanup_highmap() clears the rest); an address in the
// range past that is not mapped, even inside a 2 MiB region whose first
// half is, and the cache of a mapped leaf does not make it readable.
func TestImageTailNotMapped(t *testing.T) {
	const physBase = 0x1000000
	m := newFakeMem()
	p := newPT(m, 4)
	text := uint64(0xffffffff81000000)
	for off := uint64(0); off < 8<<20; off += 2 << 20 {
		p.mapPage(text+off, KernelTextToPhys(text+off, physBase), 2<<20)
	}
	// The last piece is mapped with 4 KiB pages and ends mid-region.
	tail := text + 8<<20
	for off := uint64(0); off < 0x3000; off += pageSize {
		p.mapPage(tail+off, KernelTextToPhys(tail+off, physBase), 4<<10)
		m.write(KernelTextToPhys(tail+off, physBase), make([]byte, pageSize))
	}
	tr := mustNew(t, m, Config{TopPGD: p.top, Levels: 4, PhysBase: physBase})
	buf := make([]byte, 0x3000)
	if err := tr.ReadVirt(buf, tail); err != nil {
		t.Fatalf("mapped tail: %v", err)
	}
	// A read that runs off the mapped tail faults at the first unmapped byte.
	err := tr.ReadVirt(make([]byte, 0x10), tail+0x3000-8)
	wantNotMapped(t, err, tail+0x3000)
	for _, va := range []uint64{tail + 0x3000, tail + 1<<20, text + 10<<20, 0xffffffff88200000} {
		if pa, err := tr.VirtToPhys(va); err == nil {
			t.Errorf("%#x: translated to %#x, want not mapped (KernelTextToPhys would say %#x)", va, pa, KernelTextToPhys(va, physBase))
		}
	}
}

// TestLeafCache checks a 2 MiB or 1 GiB leaf is walked once.
func TestLeafCache(t *testing.T) {
	for _, size := range []uint64{2 << 20, 1 << 30} {
		m := newFakeMem()
		p := newPT(m, 4)
		base := DefaultPageOffset4 + 4<<30
		p.mapPage(base, 1<<30, size)
		tr := mustNew(t, m, Config{TopPGD: p.top, Levels: 4})
		m.mu.Lock()
		m.reads = 0
		m.mu.Unlock()
		for off := uint64(0); off < size; off += size / 64 {
			if pa, err := tr.VirtToPhys(base + off); err != nil || pa != 1<<30+off {
				t.Fatalf("size %#x: %#x -> %#x, %v", size, base+off, pa, err)
			}
		}
		m.mu.Lock()
		reads := m.reads
		m.mu.Unlock()
		levels := map[uint64]int{2 << 20: 3, 1 << 30: 2}[size]
		if reads != levels {
			t.Errorf("size %#x: %d page-table reads for 64 translations, want one walk (%d)", size, reads, levels)
		}
	}
}

func TestDirectMapNeighbours(t *testing.T) {
	// Under memory KASLR vmalloc can start right after the direct map: both
	// are walked, and what lies between them is not mapped.
	k := newKernelLayout(4, 0, 0x1000000, 0xffff8da780000000)
	vmalloc := k.pageOffset + 11<<40 // e.g. 1 TiB of memory + 10 TiB padding
	k.p.mapPage(vmalloc, dataPA, 4<<10)
	tr := mustNew(t, k.m, Config{TopPGD: k.p.top, Levels: 4, PageOffset: k.pageOffset, KASLROffset: 0x1000000})
	if pa, err := tr.VirtToPhys(vmalloc + 8); err != nil || pa != dataPA+8 {
		t.Fatalf("vmalloc just past the direct map: %#x, %v", pa, err)
	}
	if pa, err := tr.VirtToPhys(k.pageOffset + 0x2345678); err != nil || pa != 0x2345678 {
		t.Fatalf("direct map: %#x, %v", pa, err)
	}
	_, err := tr.VirtToPhys(k.pageOffset + 1<<40 - 8)
	wantNotMapped(t, err, k.pageOffset+1<<40-8)
}

func TestSetPageOffset(t *testing.T) {
	k := newKernelLayout(4, 0x1000000, 0x1000000, 0xffff8da780000000)
	tr := mustNew(t, k.m, Config{TopPGD: k.p.top, Levels: 4, PhysBase: 0x1000000, KASLROffset: 0x1000000})
	if tr.PageOffset() != 0 || len(tr.LinearAliases(0x3000000)) != 1 {
		t.Fatalf("unknown page offset: %#x, aliases %#x", tr.PageOffset(), tr.LinearAliases(0x3000000))
	}
	tr.SetPageOffset(k.pageOffset)
	al := tr.LinearAliases(0x3000000)
	if tr.PageOffset() != k.pageOffset || len(al) != 2 || al[0] != k.pageOffset+0x3000000 || al[1] != StartKernelMap+0x2000000 {
		t.Fatalf("aliases %#x", al)
	}
	for _, va := range al {
		if pa, err := tr.VirtToPhys(va); err != nil || pa != 0x3000000 {
			t.Errorf("alias %#x -> %#x, %v", va, pa, err)
		}
	}
	// The page offset does not make an unmapped address readable.
	_, err := tr.VirtToPhys(k.pageOffset + 64<<20)
	wantNotMapped(t, err, k.pageOffset+64<<20)
}

func TestFindPageOffset(t *testing.T) {
	for _, c := range []struct {
		levels int
		po     uint64
	}{
		{4, DefaultPageOffset4},
		{4, oldPageOffset4},
		{4, 0xffff8da780000000},
		{5, DefaultPageOffset5},
		{5, 0xff2b6fe640000000},
	} {
		k := newKernelLayout(c.levels, 0, 0x1000000, c.po)
		tr := mustNew(t, k.m, Config{TopPGD: k.p.top, Levels: c.levels})
		got, err := tr.FindPageOffset()
		if err != nil || got != c.po {
			t.Errorf("%d-level %#x: FindPageOffset = %#x, %v", c.levels, c.po, got, err)
		}
	}
	// An LDT-remap-like mapping at the old base that is not physical 0 is skipped.
	k := newKernelLayout(4, 0, 0x1000000, 0xffff8da780000000)
	k.p.mapPage(oldPageOffset4, dataPA, 4<<10)
	tr := mustNew(t, k.m, Config{TopPGD: k.p.top, Levels: 4})
	if got, err := tr.FindPageOffset(); err != nil || got != 0xffff8da780000000 {
		t.Errorf("with LDT mapping: %#x, %v", got, err)
	}
	// Nothing maps physical 0.
	m := newFakeMem()
	p := newPT(m, 4)
	p.mapPage(0xffff8da780000000, dataPA, 4<<10)
	tr = mustNew(t, m, Config{TopPGD: p.top, Levels: 4})
	if got, err := tr.FindPageOffset(); !errors.Is(err, ErrNoDirectMap) {
		t.Errorf("no direct map: %#x, %v", got, err)
	}
}

func TestConfigFromVMCOREINFO(t *testing.T) {
	for _, c := range []struct {
		levels   int
		physBase int64
		kaslr    uint64
		po       uint64
		withSym  bool
	}{
		{4, -629145600, 0x25800000, 0xffff8da780000000, false},
		{4, 109051904, 0x200000, 0xffff9a0a40000000, true},
		{5, -660602880, 0x27600000, 0xff2b6fe640000000, false},
	} {
		t.Run(fmt.Sprint(c.levels, c.withSym), func(t *testing.T) {
			k := newKernelLayout(c.levels, uint64(c.physBase), c.kaslr, c.po)
			// init_top_pgt is in the image: move the top table there.
			pgdVA := k.text + 0x1210000
			pgdPA := KernelTextToPhys(pgdVA, uint64(c.physBase))
			k.m.write(pgdPA, k.m.page(k.p.top)[:])
			pobVA := k.text + 0x1400000
			k.m.put64(KernelTextToPhys(pobVA, uint64(c.physBase)), c.po)
			l5 := 0
			if c.levels == 5 {
				l5 = 1
			}
			text := fmt.Sprintf("OSRELEASE=6.1.0\nSYMBOL(init_top_pgt)=%x\nNUMBER(phys_base)=%d\nNUMBER(pgtable_l5_enabled)=%d\nKERNELOFFSET=%x\nNUMBER(KERNEL_IMAGE_SIZE)=1073741824\nNUMBER(sme_mask)=0\n",
				pgdVA, c.physBase, l5, c.kaslr)
			if c.withSym {
				text += fmt.Sprintf("SYMBOL(page_offset_base)=%x\n", pobVA)
			}
			info, err := vmcoreinfo.Parse([]byte(text))
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := ConfigFromVMCOREINFO(k.m, info)
			if err != nil {
				t.Fatal(err)
			}
			want := Config{PhysBase: uint64(c.physBase), KASLROffset: c.kaslr, PageOffset: c.po, TopPGD: pgdPA, Levels: c.levels, KernelImageSize: 1 << 30}
			if cfg != want {
				t.Fatalf("config\n got %+v\nwant %+v", cfg, want)
			}
			tr := mustNew(t, k.m, cfg)
			if v, err := vmem.ReadU64(tr, pobVA); err != nil || v != c.po {
				t.Fatalf("page_offset_base = %#x, %v", v, err)
			}
		})
	}
	if _, err := ConfigFromVMCOREINFO(newFakeMem(), nil); err == nil {
		t.Error("nil info: no error")
	}
	info, _ := vmcoreinfo.Parse([]byte("OSRELEASE=6.1.0\nSYMBOL(init_top_pgt)=ffffffff82c10000\n"))
	if _, err := ConfigFromVMCOREINFO(newFakeMem(), info); !errors.Is(err, vmcoreinfo.ErrNoKey) {
		t.Errorf("no phys_base: %v", err)
	}
}

func TestSMEMask(t *testing.T) {
	const sme = 1 << 47
	m := newFakeMem()
	p := newPT(m, 4)
	p.flags = sme
	p.mapPage(vmallocVA, dataPA, 4<<10)
	m.write(dataPA, []byte("enc"))
	tr := mustNew(t, m, Config{TopPGD: p.top | sme, Levels: 4, SMEMask: sme})
	buf := make([]byte, 3)
	if err := tr.ReadVirt(buf, vmallocVA); err != nil || string(buf) != "enc" {
		t.Fatalf("ReadVirt = %q, %v", buf, err)
	}
}

func TestNewErrors(t *testing.T) {
	m := newFakeMem()
	for _, cfg := range []Config{{TopPGD: 0x1000, Levels: 3}, {TopPGD: 0x1000}, {Levels: 4}, {TopPGD: 0xfff, Levels: 4}} {
		if _, err := New(m, cfg); err == nil {
			t.Errorf("New(%+v): no error", cfg)
		}
	}
	if _, err := New(nil, Config{TopPGD: 0x1000, Levels: 4}); err == nil {
		t.Error("nil memory: no error")
	}
}

func TestDetectLevelsFromCR4(t *testing.T) {
	if DetectLevelsFromCR4(0x3506f0) != 4 || DetectLevelsFromCR4(0x3516f0) != 5 {
		t.Error("LA57 bit not read")
	}
}

func TestHostileTables(t *testing.T) {
	// Self-referencing tables and PS bits at the top must not loop or panic.
	m := newFakeMem()
	top := m.allocTable()
	for i := uint64(0); i < 512; i++ {
		m.put64(top+i*8, top|pagePresent)
	}
	m.put64(top+300*8, top|pagePresent|pagePSE)
	for _, levels := range []int{4, 5} {
		tr := mustNew(t, m, Config{TopPGD: top, Levels: levels})
		for _, va := range []uint64{0xffff968000000000, 0xff96000000000000, vmallocVA, 0x1000} {
			_, _ = tr.Translate(va)
			_ = tr.ReadVirt(make([]byte, 16), va)
		}
		_, _ = tr.FindPageOffset()
	}
}

func TestConcurrentReads(t *testing.T) {
	k := newKernelLayout(4, 0, 0x1000000, 0xffff8da780000000)
	for i := uint64(0); i < 64; i++ {
		k.p.mapPage(vmallocVA+i*pageSize, 0x100000*i+0x7000000, 4<<10)
		k.m.put64(0x100000*i+0x7000000, i)
	}
	tr := mustNew(t, k.m, Config{TopPGD: k.p.top, Levels: 4, PageOffset: k.pageOffset, KASLROffset: 0x1000000})
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := 0; r < 200; r++ {
				i := uint64((r*7 + g) % 64)
				v, err := vmem.ReadU64(tr, vmallocVA+i*pageSize)
				if err != nil || v != i {
					t.Errorf("page %d: %d, %v", i, v, err)
					return
				}
				if g == 0 {
					tr.SetPageOffset(k.pageOffset)
				}
			}
		}()
	}
	wg.Wait()
}

func BenchmarkTranslateWalk(b *testing.B) {
	for _, levels := range []int{4, 5} {
		b.Run(fmt.Sprint(levels, "-level"), func(b *testing.B) {
			m := newFakeMem()
			p := newPT(m, levels)
			p.mapPage(0xffffc90000123000, dataPA, 4<<10)
			tr := mustNew(b, m, Config{TopPGD: p.top, Levels: levels})
			for b.Loop() {
				if _, err := tr.Translate(0xffffc90000123456); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkVirtToPhysCached(b *testing.B) {
	m := newFakeMem()
	p := newPT(m, 4)
	p.mapPage(vmallocVA, dataPA, 4<<10)
	tr := mustNew(b, m, Config{TopPGD: p.top, Levels: 4})
	for b.Loop() {
		if _, err := tr.VirtToPhys(vmallocVA + 0x456); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVirtToPhysHugeLeaf translates direct-map addresses spread over
// 31 cached 2 MiB leaves: the cost the kernel image and the direct map pay
// per translation now that no arithmetic fast path answers for them.
func BenchmarkVirtToPhysHugeLeaf(b *testing.B) {
	k := newKernelLayout(4, 0, 0x1000000, DefaultPageOffset4)
	tr := mustNew(b, k.m, Config{TopPGD: k.p.top, Levels: 4, PageOffset: DefaultPageOffset4, KASLROffset: 0x1000000})
	va := uint64(0)
	for b.Loop() {
		va = (va + 0x1234567) % (62 << 20)
		if _, err := tr.VirtToPhys(DefaultPageOffset4 + 2<<20 + va); err != nil {
			b.Fatal(err)
		}
	}
}
