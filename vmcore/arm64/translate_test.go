package arm64

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/panicscope/panicscope/vmcore/phys"
	"github.com/panicscope/panicscope/vmcore/vmcoreinfo"
	"github.com/panicscope/panicscope/vmcore/vmem"
)

// fakeMem is a sparse phys.Memory of 4 KiB pages; absent pages are
// *phys.MissingError.
type fakeMem struct {
	mu    sync.Mutex
	pages map[uint64]*[4096]byte
}

func newFakeMem() *fakeMem { return &fakeMem{pages: map[uint64]*[4096]byte{}} }

func (m *fakeMem) ReadPhys(buf []byte, paddr uint64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for len(buf) > 0 {
		p, ok := m.pages[paddr>>12]
		if !ok {
			return &phys.MissingError{Addr: paddr, Reason: phys.NotInDump}
		}
		n := copy(buf, p[paddr&4095:])
		buf, paddr = buf[n:], paddr+uint64(n)
	}
	return nil
}

func (m *fakeMem) write(paddr uint64, data []byte) {
	for len(data) > 0 {
		p, ok := m.pages[paddr>>12]
		if !ok {
			p = new([4096]byte)
			m.pages[paddr>>12] = p
		}
		n := copy(p[paddr&4095:], data)
		data, paddr = data[n:], paddr+uint64(n)
	}
}

func (m *fakeMem) put64(paddr, v uint64) {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], v)
	m.write(paddr, b[:])
}

func (m *fakeMem) get64(paddr uint64) uint64 {
	var b [8]byte
	if m.ReadPhys(b[:], paddr) != nil {
		return 0
	}
	return binary.LittleEndian.Uint64(b[:])
}

// TestHandBuilt39 is a 4K-granule, 39-bit (3-level) walk over tables
// written by hand: level 1 at 0x100000, slot 0 -> level 2 at 0x101000,
// slot 1 -> level 3 at 0x102000, slot 1 -> page 0x7654000 with
// AF|SH|AttrIndx bits set.
func TestHandBuilt39(t *testing.T) {
	m := newFakeMem()
	m.put64(0x100000, 0x101000|3)
	m.put64(0x101008, 0x102000|3)
	m.put64(0x102008, 0x00e8000007654f43) // PXN/UXN, AF, SH, nG: ignored
	tr, err := New(m, Config{PageShift: 12, VABits: 39, ConfigVABits: 39, TopPGD: 0x100000})
	if err != nil {
		t.Fatal(err)
	}
	if pa, err := tr.Walk(0xffffff8000201abc); err != nil || pa != 0x7654abc {
		t.Errorf("walk = %#x, %v; want 0x7654abc", pa, err)
	}
	// Slot 2 of the level-3 table is empty; bit 39 clear is the TTBR0 half.
	for _, va := range []uint64{0xffffff8000202000, 0xffffff0000201000, 0x0000000000201000} {
		if _, err := tr.Walk(va); !errors.Is(err, vmem.ErrNotMapped) {
			t.Errorf("%#x: %v, want not mapped", va, err)
		}
	}
	// A level-2 block (2 MiB) in slot 2.
	m.put64(0x101010, 0x40000000|1|0x400)
	if pa, err := tr.Walk(0xffffff8000412345); err != nil || pa != 0x40012345 {
		t.Errorf("block walk = %#x, %v", pa, err)
	}
	// A block descriptor at level 3 is reserved.
	m.put64(0x102018, 0x7655000|1)
	if _, err := tr.Walk(0xffffff8000203000); !errors.Is(err, vmem.ErrNotMapped) {
		t.Errorf("level-3 block: %v, want not mapped", err)
	}
	// A table page missing from the dump is a fault wrapping the missing page.
	m.put64(0x101018, 0x200000|3)
	_, err = tr.Walk(0xffffff8000600000)
	if !vmem.IsFault(err) || !phys.IsMissing(err) {
		t.Errorf("missing table: %v", err)
	}
}

// builder writes page tables the way the kernel's mapping code lays them
// out (one table per granule; the top table indexed by the bits above the
// other levels), for any granule and VA size, with a descriptor encoder
// from the Arm ARM's formats.
type builder struct {
	m    *fakeMem
	cfg  Config
	next uint64
	top  uint64
}

func newBuilder(cfg Config) *builder {
	b := &builder{m: newFakeMem(), cfg: cfg, next: 1 << 24}
	b.top = b.alloc()
	b.cfg.TopPGD = b.top
	return b
}

func (b *builder) alloc() uint64 {
	g := uint64(1) << b.cfg.PageShift
	p := (b.next + g - 1) &^ (g - 1)
	b.next = p + g
	b.m.write(p, make([]byte, g))
	return p
}

// desc encodes an output address and the low type bits.
func (b *builder) desc(pa, typ uint64) uint64 {
	g := b.cfg.PageShift
	if b.cfg.LPA2 {
		return pa&(1<<50-1)&^(1<<g-1) | (pa>>50&3)<<8 | typ | 0x400
	}
	d := pa & (1<<48 - 1) &^ (1<<g - 1)
	if g == 16 {
		d |= (pa >> 48 & 0xf) << 12
	}
	return d | typ | 0x400
}

// mapAt maps va to pa with a leaf at architectural level leaf (3: page).
func (b *builder) mapAt(va, pa uint64, leaf int) {
	levels := b.cfg.Levels()
	per := b.cfg.PageShift - 3
	table := b.top
	for i := range levels {
		level := 4 - levels + i
		shift := b.cfg.PageShift + per*uint(levels-1-i)
		bits := per
		if i == 0 {
			bits = b.cfg.VABits - shift
		}
		slot := table + (va>>shift&(1<<bits-1))*8
		if level == leaf {
			typ := uint64(1) // block
			if leaf == 3 {
				typ = 3
			}
			b.m.put64(slot, b.desc(pa, typ))
			return
		}
		d := b.m.get64(slot)
		if d&1 == 0 {
			next := b.alloc()
			b.m.put64(slot, b.desc(next, 3))
			table = next
			continue
		}
		table = b.outputAddress(d)
	}
}

func (b *builder) outputAddress(d uint64) uint64 {
	g := b.cfg.PageShift
	if b.cfg.LPA2 {
		return d&(1<<50-1)&^(1<<g-1) | (d>>8&3)<<50
	}
	pa := d & (1<<48 - 1) &^ (1<<g - 1)
	if g == 16 {
		pa |= (d >> 12 & 0xf) << 48
	}
	return pa
}

// TestGranulesAndVASizes maps a page, a block and a high physical
// address in each configuration the arm64 Kconfig offers, and checks the
// depth against CONFIG_PGTABLE_LEVELS.
func TestGranulesAndVASizes(t *testing.T) {
	cases := []struct {
		shift, va uint
		levels    int // CONFIG_PGTABLE_LEVELS (arch/arm64/Kconfig)
		blocks    []int
	}{
		{12, 39, 3, []int{1, 2}},
		{12, 48, 4, []int{1, 2}},
		{12, 52, 5, []int{0, 1, 2}}, // LPA2
		{14, 36, 2, []int{2}},
		{14, 47, 3, []int{2}},
		{14, 48, 4, []int{2}},
		{14, 52, 4, []int{1, 2}}, // LPA2
		{16, 42, 2, []int{2}},
		{16, 48, 3, []int{2}},
		{16, 52, 3, []int{1, 2}}, // LVA + LPA
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%dK/%d", 1<<(c.shift-10), c.va), func(t *testing.T) {
			cfg := Config{PageShift: c.shift, VABits: c.va, ConfigVABits: c.va, LPA2: c.va > 48 && c.shift != 16}
			if got := cfg.Levels(); got != c.levels {
				t.Fatalf("levels %d, want %d", got, c.levels)
			}
			b := newBuilder(cfg)
			g := uint64(1) << c.shift
			base := -(uint64(1) << c.va) // the first TTBR1 address
			// A page in the middle of the range, at a high physical address
			// when the configuration has 52-bit PA.
			va := base + (uint64(1) << (c.va - 2)) + 5*g
			pa := uint64(0x0000_7f12_3450_0000) &^ (g - 1)
			if c.va == 52 {
				pa |= 0xc << 48
			}
			b.mapAt(va, pa, 3)
			tr, err := New(b.m, b.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if tr.Layout().Levels != c.levels || tr.Layout().PageSize != g {
				t.Errorf("layout %+v", tr.Layout())
			}
			for _, off := range []uint64{0, 8, g - 1} {
				if got, err := tr.Walk(va + off); err != nil || got != pa+off {
					t.Errorf("page %#x+%#x: %#x, %v; want %#x", va, off, got, err, pa+off)
				}
			}
			if _, err := tr.Walk(va + g); !errors.Is(err, vmem.ErrNotMapped) {
				t.Errorf("next page: %v, want not mapped", err)
			}
			if _, err := tr.Walk(base - g); !errors.Is(err, vmem.ErrNotMapped) {
				t.Errorf("below the TTBR1 range: %v, want not mapped", err)
			}
			// Blocks at every level the granule allows; another level's
			// block is not a valid descriptor.
			per := c.shift - 3
			for i, lvl := range c.blocks {
				size := uint64(1) << (c.shift + per*uint(3-lvl))
				bva := base + uint64(i+1)*(uint64(1)<<(c.va-3))
				if size > uint64(1)<<(c.va-3) {
					bva = base + (uint64(1) << (c.va - 1)) // its own top slot
				}
				bva &^= size - 1
				bpa := uint64(7) * size & (1<<52 - 1) &^ (size - 1)
				if !cfg.LPA2 && c.shift != 16 {
					bpa &= 1<<48 - 1
				}
				b.mapAt(bva, bpa, lvl)
				tr, _ := New(b.m, b.cfg)
				probe := bva + size/2 + 0x18
				if got, err := tr.VirtToPhys(probe); err != nil || got != bpa+size/2+0x18 {
					t.Errorf("level %d block (%#x bytes) %#x: %#x, %v; want %#x", lvl, size, probe, got, err, bpa+size/2+0x18)
				}
				// Again through the cache.
				if got, err := tr.VirtToPhys(probe + 8); err != nil || got != bpa+size/2+0x20 {
					t.Errorf("cached block: %#x, %v", got, err)
				}
			}
		})
	}
}

// TestReadVirtAcrossPages reads 16 bytes that straddle two pages mapped to
// unrelated frames, and a fault names the first unreadable byte.
func TestReadVirtAcrossPages(t *testing.T) {
	b := newBuilder(Config{PageShift: 12, VABits: 48, ConfigVABits: 48})
	va := uint64(0xffff800000010000)
	b.mapAt(va, 0x5000000, 3)
	b.mapAt(va+0x1000, 0x3000000, 3)
	b.m.write(0x5000ff8, []byte("abcdefgh"))
	b.m.write(0x3000000, []byte("ijklmnop"))
	tr, err := New(b.m, b.cfg)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	if err := tr.ReadVirt(buf, va+0xff8); err != nil || string(buf) != "abcdefghijklmnop" {
		t.Errorf("read %q, %v", buf, err)
	}
	b.mapAt(va+0x2000, 0x9000000, 3) // mapped, but the frame is not in the dump
	var fe *vmem.FaultError
	if err := tr.ReadVirt(buf, va+0x1ff8); !errors.As(err, &fe) || fe.VAddr != va+0x2000 || !phys.IsMissing(err) {
		t.Errorf("fault %v", err)
	}
}

func info(t *testing.T, text string) *vmcoreinfo.Info {
	t.Helper()
	i, err := vmcoreinfo.Parse([]byte("OSRELEASE=6.12.0\n" + text))
	if err != nil {
		t.Fatal(err)
	}
	return i
}

// TestConfigFromVMCOREINFO reads the keys as the fixtures' kernel wrote
// them (VA_BITS 52 in VMCOREINFO, 48 in use).
func TestConfigFromVMCOREINFO(t *testing.T) {
	const text = "PAGESIZE=4096\nSYMBOL(swapper_pg_dir)=ffffc728eeb3a000\n" +
		"SYMBOL(_stext)=ffffc728ece10000\nNUMBER(VA_BITS)=52\nNUMBER(kimage_voffset)=0xffffc728acc00000\n" +
		"NUMBER(PHYS_OFFSET)=0xfff1000040000000\nKERNELOFFSET=47286ce00000\nNUMBER(KERNELPACMASK)=0xffff000000000000\n" +
		"NUMBER(TCR_EL1_T1SZ)=0x10\n"
	cfg, err := ConfigFromVMCOREINFO(info(t, text))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{PageShift: 12, VABits: 48, ConfigVABits: 52, TopPGD: 0x41f3a000, KimageVOffset: 0xffffc728acc00000,
		PhysOffset: 0xfff1000040000000, KASLROffset: 0x47286ce00000, ImageStart: 0xffffc728ece10000, PACMask: 0xffff000000000000}
	if cfg != want {
		t.Errorf("config\n got %+v\nwant %+v", cfg, want)
	}
	if cfg.Levels() != 4 || cfg.PageOffset() != 0xfff0000000000000 {
		t.Errorf("levels %d, PAGE_OFFSET %#x", cfg.Levels(), cfg.PageOffset())
	}
	// __phys_to_virt(PHYS_OFFSET's RAM start 0x40000000) is the start of
	// the 48-bit linear map.
	tr, err := New(newFakeMem(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if a := tr.LinearAliases(0x40000000); len(a) != 1 || a[0] != 0xffff000000000000 {
		t.Errorf("aliases of 0x40000000: %#x", a)
	}
	if a := tr.LinearAliases(0x42210000); len(a) != 2 || a[1] != 0xffffc728eee10000 {
		t.Errorf("aliases of the image: %#x", a)
	}
	// Without TCR_EL1_T1SZ (before 5.12) VA_BITS is the width in use; an
	// odd page size or a missing key is an error.
	cfg, err = ConfigFromVMCOREINFO(info(t, "PAGESIZE=65536\nSYMBOL(swapper_pg_dir)=ffff800011a30000\nNUMBER(VA_BITS)=48\nNUMBER(kimage_voffset)=0xffff7fffd0000000\nNUMBER(PHYS_OFFSET)=0x40000000\n"))
	if err != nil || cfg.VABits != 48 || cfg.PageShift != 16 || cfg.Levels() != 3 || cfg.LPA2 {
		t.Errorf("64K/48: %+v, %v", cfg, err)
	}
	for _, bad := range []string{
		"PAGESIZE=8192\nSYMBOL(swapper_pg_dir)=ffff800011a30000\nNUMBER(VA_BITS)=48\nNUMBER(kimage_voffset)=0x0\nNUMBER(PHYS_OFFSET)=0x0\n",
		"PAGESIZE=4096\nSYMBOL(swapper_pg_dir)=ffff800011a30000\nNUMBER(kimage_voffset)=0x0\nNUMBER(PHYS_OFFSET)=0x0\n",
		"PAGESIZE=4096\nNUMBER(VA_BITS)=48\nNUMBER(kimage_voffset)=0x0\nNUMBER(PHYS_OFFSET)=0x0\n",
		"PAGESIZE=4096\nSYMBOL(swapper_pg_dir)=ffff800011a30000\nNUMBER(VA_BITS)=48\nNUMBER(TCR_EL1_T1SZ)=0x2\nNUMBER(kimage_voffset)=0x0\nNUMBER(PHYS_OFFSET)=0x0\n",
	} {
		if _, err := ConfigFromVMCOREINFO(info(t, bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

// TestFindPageOffset keeps the PAGE_OFFSET whose linear alias of the top
// table the page tables map: 5.4+'s lower half, the older upper half, or
// none (unknown: the image alias only).
func TestFindPageOffset(t *testing.T) {
	for _, c := range []struct {
		name string
		base uint64 // where the test maps the linear map; 0: nowhere
		want uint64
	}{
		{"5.4+", 0xffff000000000000, 0xffff000000000000},
		{"before 5.4", 0xffff800000000000, 0xffff800000000000},
		{"unmapped", 0, 0},
	} {
		b := newBuilder(Config{PageShift: 12, VABits: 48, ConfigVABits: 48})
		if c.base != 0 {
			b.mapAt(c.base|b.top, b.top, 3)
		}
		tr, err := New(b.m, b.cfg)
		if err != nil {
			t.Fatal(err)
		}
		if got := tr.FindPageOffset(); got != c.want || tr.Layout().PageOffset != c.want {
			t.Errorf("%s: PAGE_OFFSET %#x, want %#x", c.name, got, c.want)
		}
		if n := len(tr.LinearAliases(b.top)); (n == 1) != (c.want != 0) {
			t.Errorf("%s: %d aliases", c.name, n)
		}
	}
}
