package arm64

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/panicscope/panicscope/vmcore/arch"
	"github.com/panicscope/panicscope/vmcore/phys"
	"github.com/panicscope/panicscope/vmcore/vmem"
)

// Config describes one kernel's address space.
type Config struct {
	// PageShift is the translation granule: 12 (4K), 14 (16K) or 16 (64K).
	PageShift uint
	// VABits is the kernel virtual address width in use: 64 -
	// TCR_EL1.T1SZ (vabits_actual), which may be below the configured
	// VA_BITS (a 52-bit kernel on a CPU without LPA2/LVA runs 48-bit).
	VABits uint
	// ConfigVABits is NUMBER(VA_BITS), the configured width: it places
	// the linear map (PAGE_OFFSET is -(1 << VA_BITS)).
	ConfigVABits uint
	// TopPGD is the physical address of the table TTBR1_EL1 points at
	// (swapper_pg_dir).
	TopPGD uint64
	// LPA2 selects FEAT_LPA2 descriptors (4K and 16K granules with 52-bit
	// VA): output address bits 51:50 in descriptor bits 9:8.
	LPA2 bool
	// KimageVOffset is kimage_voffset: kernel-image vaddr - paddr.
	KimageVOffset uint64
	// PhysOffset is PHYS_OFFSET (memstart_addr): linear vaddr =
	// (paddr - PHYS_OFFSET) | PAGE_OFFSET.
	PhysOffset uint64
	// KASLROffset is KERNELOFFSET.
	KASLROffset uint64
	// ImageStart is _stext (0 when unknown): bounds the kernel-image alias.
	ImageStart uint64
	// PACMask is NUMBER(KERNELPACMASK), else GENMASK(63, VABits): the
	// bits pointer authentication may set in a kernel address.
	PACMask uint64
}

// Levels is the number of page-table levels the walk goes through:
// ARM64_HW_PGTABLE_LEVELS(va_bits) (arch/arm64/include/asm/pgtable-hwdef.h).
func (c Config) Levels() int {
	per := c.PageShift - 3
	return int((c.VABits - c.PageShift + per - 1) / per)
}

// PageOffset is PAGE_OFFSET, the base the linear map's arithmetic uses
// (arch/arm64/include/asm/memory.h): _PAGE_OFFSET(VA_BITS) =
// -(1 << VA_BITS) since 5.4 put the linear map in the lower half of the
// kernel range; before, the upper half, -(1 << (VA_BITS - 1)).
// ConfigFromVMCOREINFO's translator keeps the one whose alias of
// swapper_pg_dir the page tables map (Translator.PageOffset).
func (c Config) PageOffset() uint64 {
	if c.ConfigVABits == 0 || c.ConfigVABits >= 64 {
		return 0
	}
	return -(uint64(1) << c.ConfigVABits)
}

// pageOffsetBefore54 is PAGE_OFFSET before 5.4.
func (c Config) pageOffsetBefore54() uint64 {
	if c.ConfigVABits == 0 || c.ConfigVABits >= 64 {
		return 0
	}
	return -(uint64(1) << (c.ConfigVABits - 1))
}

func (c Config) check() error {
	switch c.PageShift {
	case 12, 14, 16:
	default:
		return fmt.Errorf("arm64: page shift %d, want 12, 14 or 16", c.PageShift)
	}
	if c.VABits < 25 || c.VABits > 52 {
		return fmt.Errorf("arm64: %d-bit virtual addresses, want 25 to 52", c.VABits)
	}
	if c.LPA2 && c.PageShift == 16 {
		return errors.New("arm64: LPA2 descriptors with the 64K granule")
	}
	if l := c.Levels(); l < 1 || l > 5 {
		return fmt.Errorf("arm64: %d page-table levels", l)
	}
	return nil
}

// Translator walks the kernel's stage-1 page tables from swapper_pg_dir
// and reads through them. It is safe for concurrent use.
type Translator struct {
	mem        phys.Memory
	cfg        Config
	levels     int
	pageOffset uint64 // PAGE_OFFSET in use; 0 when unknown
	leaves     leafCache
	tlb        *arch.TLB
}

// New checks cfg and returns a Translator over mem.
func New(mem phys.Memory, cfg Config) (*Translator, error) {
	if mem == nil {
		return nil, errors.New("arm64: nil physical memory")
	}
	if err := cfg.check(); err != nil {
		return nil, err
	}
	// A top table with few entries may be as small as 64 bytes (TTBR
	// alignment); swapper_pg_dir is page-aligned.
	if cfg.TopPGD == 0 || cfg.TopPGD&63 != 0 {
		return nil, fmt.Errorf("arm64: top-level page table %#x is not an aligned physical address", cfg.TopPGD)
	}
	// The linear map is mapped with pages when rodata=full (arm64's
	// default): a larger TLB than x86's.
	return &Translator{mem: mem, cfg: cfg, levels: cfg.Levels(), pageOffset: cfg.PageOffset(), tlb: arch.NewTLB(4096)}, nil
}

// FindPageOffset keeps the PAGE_OFFSET (5.4+ or older layout) under which
// the linear-map alias of the top table walks back to it; if neither does,
// the linear map's place is unknown (0) and LinearAliases gives the image
// alias only.
func (t *Translator) FindPageOffset() uint64 {
	t.pageOffset = 0
	for _, po := range []uint64{t.cfg.PageOffset(), t.cfg.pageOffsetBefore54()} {
		if po == 0 {
			continue
		}
		if pa, err := t.Walk((t.cfg.TopPGD - t.cfg.PhysOffset) | po); err == nil && pa == t.cfg.TopPGD {
			t.pageOffset = po
			break
		}
	}
	return t.pageOffset
}

// PageOffset is PAGE_OFFSET in use, 0 when unknown.
func (t *Translator) PageOffset() uint64 { return t.pageOffset }

// Config returns the configuration.
func (t *Translator) Config() Config { return t.cfg }

// Layout implements arch.Translator.
func (t *Translator) Layout() arch.Layout {
	l := arch.Layout{
		PageSize:    1 << t.cfg.PageShift,
		Levels:      t.levels,
		VABits:      int(t.cfg.VABits),
		KASLROffset: t.cfg.KASLROffset,
		PageOffset:  t.pageOffset,
	}
	if t.cfg.ConfigVABits != t.cfg.VABits {
		l.ConfigVABits = int(t.cfg.ConfigVABits)
	}
	return l
}

// LinearAliases implements arch.Translator: __phys_to_virt() and, for the
// kernel image's pages, __phys_to_kimg() (arch/arm64/include/asm/memory.h).
func (t *Translator) LinearAliases(paddr uint64) []uint64 {
	var out []uint64
	if po := t.pageOffset; po != 0 {
		out = append(out, (paddr-t.cfg.PhysOffset)|po)
	}
	if t.cfg.KimageVOffset != 0 && t.cfg.ImageStart != 0 {
		va := paddr + t.cfg.KimageVOffset
		base := t.cfg.ImageStart &^ (1<<21 - 1)
		if va >= base && va-base < 1<<30 {
			out = append(out, va)
		}
	}
	return out
}

// CodeAddress implements arch.Translator: the PAC bits of a saved return
// address stripped with the dump's mask (StripPAC).
func (t *Translator) CodeAddress(addr uint64) uint64 {
	m := t.cfg.PACMask
	if m == 0 {
		m = ^uint64(0) << t.cfg.VABits
	}
	return StripPAC(addr, m)
}

// kernelAddr reports whether vaddr lies in the TTBR1 range: bits
// 63..VABits all ones.
func (t *Translator) kernelAddr(vaddr uint64) bool {
	return vaddr>>t.cfg.VABits == ^uint64(0)>>t.cfg.VABits
}

func (t *Translator) notKernel(vaddr uint64) error {
	return &vmem.FaultError{VAddr: vaddr, Err: fmt.Errorf("not a kernel address for %d-bit VA (TTBR1 range): %w", t.cfg.VABits, vmem.ErrNotMapped)}
}

// Walk implements arch.Translator: the page-table walk alone.
func (t *Translator) Walk(vaddr uint64) (uint64, error) {
	pa, _, err := t.walk(vaddr)
	return pa, err
}

// VirtToPhys translates as ReadVirt does: the walk, through the caches.
func (t *Translator) VirtToPhys(vaddr uint64) (uint64, error) {
	pa, _, err := t.translate(vaddr)
	return pa, err
}

func (t *Translator) translate(vaddr uint64) (paddr, span uint64, err error) {
	if !t.kernelAddr(vaddr) {
		return 0, 0, t.notKernel(vaddr)
	}
	if base, size, ok := t.leaves.get(vaddr); ok {
		off := vaddr & (size - 1)
		return base | off, size - off, nil
	}
	page := uint64(1) << t.cfg.PageShift
	vpn := vaddr >> t.cfg.PageShift
	if pfn, ok := t.tlb.Get(vpn); ok {
		off := vaddr & (page - 1)
		return pfn<<t.cfg.PageShift | off, page - off, nil
	}
	pa, size, err := t.walk(vaddr)
	if err != nil {
		return 0, 0, err
	}
	if size > page {
		t.leaves.put(vaddr, pa&^(size-1), size)
	} else {
		t.tlb.Put(vpn, pa>>t.cfg.PageShift)
	}
	return pa, size - (vaddr & (size - 1)), nil
}

// Descriptor bits (Arm ARM D8.3, arch/arm64/include/asm/pgtable-hwdef.h).
const (
	descValid = 1 << 0
	descTable = 1 << 1 // table (levels < 3) or page (level 3); 0 with valid: block
)

// outputAddress is the address field of a table, block or page
// descriptor: bits 47..PAGE_SHIFT, with the 52-bit extensions: LPA2 keeps
// bits 49..PAGE_SHIFT and OA[51:50] in bits 9:8; the 64K granule keeps
// OA[51:48] in bits 15:12 (FEAT_LPA; RES0 without it).
// (__pte_to_phys(), arch/arm64/include/asm/pgtable.h.)
func (t *Translator) outputAddress(desc uint64) uint64 {
	low := ^uint64(0) << t.cfg.PageShift
	if t.cfg.LPA2 {
		return desc&low&(1<<50-1) | (desc>>8&3)<<50
	}
	oa := desc & low & (1<<48 - 1)
	if t.cfg.PageShift == 16 {
		oa |= (desc >> 12 & 0xf) << 48
	}
	return oa
}

// blockAllowed reports whether a block descriptor is valid at the
// architectural level (0..3, -1 for LPA2's extra level): level 2 always;
// level 1 with the 4K granule, with LPA2, or with 64K (FEAT_LPA); level 0
// with 4K and LPA2.
func (t *Translator) blockAllowed(level int) bool {
	switch level {
	case 2:
		return true
	case 1:
		return t.cfg.PageShift == 12 || t.cfg.LPA2 || t.cfg.PageShift == 16
	case 0:
		return t.cfg.PageShift == 12 && t.cfg.LPA2
	}
	return false
}

// walk does the hardware stage-1 walk: the physical address of vaddr and
// the size of the page or block that maps it.
func (t *Translator) walk(vaddr uint64) (paddr, size uint64, err error) {
	if !t.kernelAddr(vaddr) {
		return 0, 0, t.notKernel(vaddr)
	}
	per := t.cfg.PageShift - 3
	table := t.cfg.TopPGD
	var b [8]byte
	for i := range t.levels {
		level := 4 - t.levels + i // the architectural level; the last is 3
		shift := t.cfg.PageShift + per*uint(t.levels-1-i)
		width := per
		if i == 0 {
			width = t.cfg.VABits - shift
		}
		slot := table + (vaddr>>shift&(1<<width-1))*8
		if err := t.mem.ReadPhys(b[:], slot); err != nil {
			if phys.IsMissing(err) {
				return 0, 0, &vmem.FaultError{VAddr: vaddr, Err: fmt.Errorf("level %d table at %#x: %w", level, table, err)}
			}
			return 0, 0, fmt.Errorf("arm64: reading level %d descriptor at %#x for %#x: %w", level, slot, vaddr, err)
		}
		desc := binary.LittleEndian.Uint64(b[:])
		if desc&descValid == 0 {
			return 0, 0, &vmem.FaultError{VAddr: vaddr, Err: fmt.Errorf("level %d descriptor %#x at %#x not valid: %w", level, desc, slot, vmem.ErrNotMapped)}
		}
		oa := t.outputAddress(desc)
		if level == 3 {
			if desc&descTable == 0 {
				return 0, 0, &vmem.FaultError{VAddr: vaddr, Err: fmt.Errorf("level 3 descriptor %#x at %#x is reserved: %w", desc, slot, vmem.ErrNotMapped)}
			}
			size = 1 << shift
			return oa | vaddr&(size-1), size, nil
		}
		if desc&descTable == 0 {
			if !t.blockAllowed(level) {
				return 0, 0, &vmem.FaultError{VAddr: vaddr, Err: fmt.Errorf("level %d block descriptor %#x at %#x is not allowed with this granule: %w", level, desc, slot, vmem.ErrNotMapped)}
			}
			size = 1 << shift
			return oa&^(size-1) | vaddr&(size-1), size, nil
		}
		table = oa
	}
	return 0, 0, fmt.Errorf("arm64: no leaf for %#x", vaddr) // levels >= 1: not reached
}

// ReadVirt implements vmem.Reader: one translation per physically
// contiguous piece; a fault names the first byte that could not be read.
func (t *Translator) ReadVirt(buf []byte, vaddr uint64) error {
	return arch.ReadVirt(t.mem, t.translate, "arm64", buf, vaddr)
}

// leafCache holds walked blocks by size; it stops growing at maxLeaves.
type leafCache struct {
	mu    sync.RWMutex
	sizes []uint64 // block sizes seen, largest first
	m     map[uint64]map[uint64]uint64
	n     int
}

const maxLeaves = 1 << 16

func (c *leafCache) get(vaddr uint64) (base, size uint64, ok bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	for _, s := range c.sizes {
		if b, ok := c.m[s][vaddr/s]; ok {
			return b, s, true
		}
	}
	return 0, 0, false
}

func (c *leafCache) put(vaddr, base, size uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n >= maxLeaves {
		return
	}
	if c.m == nil {
		c.m = map[uint64]map[uint64]uint64{}
	}
	if c.m[size] == nil {
		c.m[size] = map[uint64]uint64{}
		i := 0
		for i < len(c.sizes) && c.sizes[i] > size {
			i++
		}
		c.sizes = append(c.sizes[:i], append([]uint64{size}, c.sizes[i:]...)...)
	}
	c.m[size][vaddr/size] = base
	c.n++
}

var (
	_ arch.Translator = (*Translator)(nil)
	_ vmem.Reader     = (*Translator)(nil)
)
