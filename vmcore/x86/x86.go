// Package x86 translates x86_64 kernel virtual addresses to physical ones
// over a phys.Memory and implements vmem.Reader on top of that.
//
// Two fast paths avoid the page-table walk: the kernel image mapping
// (__phys_addr_nodebug() in arch/x86/include/asm/page_64.h) and the direct
// map of physical memory at page_offset_base. Everything else (vmalloc,
// modules, vmemmap, fixmap, and any address when Config.WalkOnly is set)
// is translated by walking 4- or 5-level page tables from Config.TopPGD.
package x86

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/panicscope/panicscope/vmcore/phys"
	"github.com/panicscope/panicscope/vmcore/vmem"
)

// Fixed parts of the x86_64 kernel memory map
// (Documentation/arch/x86/x86_64/mm.rst, arch/x86/include/asm/page_64_types.h).
const (
	// StartKernelMap is __START_KERNEL_map, the kernel image mapping.
	StartKernelMap uint64 = 0xffffffff80000000

	// DefaultPageOffset4 and DefaultPageOffset5 are __PAGE_OFFSET_BASE_L4 and
	// __PAGE_OFFSET_BASE_L5: page_offset_base without memory KASLR (4.20+).
	DefaultPageOffset4 uint64 = 0xffff888000000000
	DefaultPageOffset5 uint64 = 0xff11000000000000

	// Bases used before 4.20 moved the direct map up for the LDT remap.
	oldPageOffset4 uint64 = 0xffff880000000000
	oldPageOffset5 uint64 = 0xff10000000000000

	// Size reserved for the direct map: 64 TiB (4-level), 32 PiB (5-level).
	directMapMax4 uint64 = 64 << 40
	directMapMax5 uint64 = 32 << 50

	// KERNEL_IMAGE_SIZE with and without CONFIG_RANDOMIZE_BASE (page_64_types.h).
	kernelImageSizeKASLR   uint64 = 1 << 30
	kernelImageSizeNoKASLR uint64 = 512 << 20

	tb = uint64(1) << 40 // TB_SHIFT granularity of arch/x86/mm/kaslr.c
)

// Page-table entry bits (arch/x86/include/asm/pgtable_types.h).
const (
	pagePresent = 1 << 0 // _PAGE_PRESENT
	pagePSE     = 1 << 7 // _PAGE_PSE: 1 GiB leaf in a PUD, 2 MiB leaf in a PMD

	// physAddrMask is bits 12..51 (PTE_PFN_MASK with __PHYSICAL_MASK_SHIFT
	// 52): drops the flags, the software bits 52..62 and NX (63).
	physAddrMask uint64 = 0x000ffffffffff000

	pageShift = 12
	pageSize  = 1 << pageShift
)

// Config describes one kernel's address space.
type Config struct {
	// PhysBase is phys_base: the physical address the kernel image's link
	// base sits at, so kernel-text paddr = vaddr - StartKernelMap + PhysBase
	// (two's complement: VMCOREINFO may print it negative).
	PhysBase uint64
	// KASLROffset is KERNELOFFSET (the kernel text slide); informational,
	// except that it selects the default KernelImageSize.
	KASLROffset uint64
	// PageOffset is page_offset_base, the start of the direct map. 0 means
	// unknown: direct-map addresses are then walked like any other (use
	// SetPageOffset when it is learnt later).
	PageOffset uint64
	// TopPGD is the PHYSICAL address of the top-level page table
	// (init_top_pgt / swapper_pg_dir, or a CR3 value; low and high flag
	// bits are masked off).
	TopPGD uint64
	// Levels is 4 or 5 (LA57).
	Levels int
	// SMEMask is sme_me_mask (NUMBER(sme_mask)): the memory-encryption bit
	// set in page-table entries, masked out of physical addresses.
	SMEMask uint64
	// KernelImageSize is NUMBER(KERNEL_IMAGE_SIZE); 0 means 1 GiB when
	// KASLROffset is set (CONFIG_RANDOMIZE_BASE) and 512 MiB otherwise.
	// Modules start right after it, so the text fast path stops there.
	KernelImageSize uint64
	// DirectMapSize bounds the direct-map fast path; 0 derives it (see
	// New). Past it, addresses are walked.
	DirectMapSize uint64
	// WalkOnly turns both fast paths off: every address is walked. For
	// dumps whose phys_base is unknown, and for checking the fast paths.
	WalkOnly bool
}

// KernelTextToPhys translates a kernel-image address
// (__phys_addr_nodebug(), arch/x86/include/asm/page_64.h):
// vaddr - __START_KERNEL_map + phys_base, modulo 2^64. Like __pa(), it also
// answers for image-range addresses past _end that the page tables no
// longer map (cleanup_highmap()); the walk would call those unmapped.
func KernelTextToPhys(vaddr, physBase uint64) uint64 {
	return vaddr - StartKernelMap + physBase
}

// DefaultPageOffset is page_offset_base without memory randomization.
func DefaultPageOffset(levels int) uint64 {
	if levels == 5 {
		return DefaultPageOffset5
	}
	return DefaultPageOffset4
}

// DetectLevelsFromCR4 gives the paging depth from CR4 (bit 12, LA57), for
// dumps without VMCOREINFO whose CPU state notes carry CR4.
func DetectLevelsFromCR4(cr4 uint64) int {
	if cr4&(1<<12) != 0 {
		return 5
	}
	return 4
}

// Translator translates kernel virtual addresses and reads through them.
// It is safe for concurrent use.
type Translator struct {
	mem      phys.Memory
	cfg      Config
	top      uint64 // masked TopPGD
	addrMask uint64 // physAddrMask &^ SMEMask
	vaBits   uint   // 48 or 57
	textSize uint64 // kernel-image fast path length; 0 = off
	physEnd  uint64 // highest end of phys.Ranger ranges, 0 if unknown
	dm       atomic.Pointer[directMap]
	tlb      tlb
}

type directMap struct{ base, size uint64 }

// New checks cfg and returns a Translator over mem.
func New(mem phys.Memory, cfg Config) (*Translator, error) {
	if mem == nil {
		return nil, errors.New("x86: nil physical memory")
	}
	if cfg.Levels != 4 && cfg.Levels != 5 {
		return nil, fmt.Errorf("x86: %d paging levels, want 4 or 5", cfg.Levels)
	}
	t := &Translator{
		mem:      mem,
		cfg:      cfg,
		addrMask: physAddrMask &^ cfg.SMEMask,
		vaBits:   uint(pageShift + 9*cfg.Levels),
	}
	t.top = cfg.TopPGD & t.addrMask
	if t.top == 0 {
		return nil, fmt.Errorf("x86: no top-level page table (TopPGD %#x)", cfg.TopPGD)
	}
	if !cfg.WalkOnly {
		t.textSize = cfg.KernelImageSize
		if t.textSize == 0 {
			t.textSize = kernelImageSizeNoKASLR
			if cfg.KASLROffset != 0 {
				t.textSize = kernelImageSizeKASLR
			}
		}
		// The image mapping ends where the module area begins, below the
		// fixmap (MODULES_VADDR = __START_KERNEL_map + KERNEL_IMAGE_SIZE).
		if t.textSize > 1<<30 {
			t.textSize = 1 << 30
		}
	}
	if r, ok := mem.(phys.Ranger); ok {
		for _, rg := range r.Ranges() {
			if rg.End > t.physEnd {
				t.physEnd = rg.End
			}
		}
	}
	t.SetPageOffset(cfg.PageOffset)
	return t, nil
}

// SetPageOffset sets page_offset_base (e.g. read later via kallsyms) and
// with it the direct-map fast path; 0 turns that path off. Safe to call
// while other goroutines read.
//
// The fast path covers [PageOffset, PageOffset+size): Config.DirectMapSize
// if set, else the physical extent of the dump rounded up to 1 TiB (at
// least 1 TiB). Under memory KASLR the kernel sizes the direct-map region
// to DIV_ROUND_UP(max_pfn, 1 TiB) + padding and puts vmalloc right after it
// (kernel_randomize_memory(), arch/x86/mm/kaslr.c), so the nominal 64 TiB /
// 32 PiB would overlap vmalloc; this bound never does.
func (t *Translator) SetPageOffset(pageOffset uint64) {
	if pageOffset == 0 || t.cfg.WalkOnly {
		t.dm.Store(nil)
		return
	}
	limit := directMapMax4
	if t.cfg.Levels == 5 {
		limit = directMapMax5
	}
	size := t.cfg.DirectMapSize
	if size == 0 {
		size = tb
		if t.physEnd > tb {
			size = (t.physEnd + tb - 1) &^ (tb - 1)
		}
	}
	if size > limit {
		size = limit
	}
	t.dm.Store(&directMap{base: pageOffset, size: size})
}

// PageOffset is the direct-map base in use, 0 when unknown.
func (t *Translator) PageOffset() uint64 {
	if d := t.dm.Load(); d != nil {
		return d.base
	}
	return 0
}

// Config returns the configuration, with PageOffset as currently set.
func (t *Translator) Config() Config {
	c := t.cfg
	c.PageOffset = t.PageOffset()
	return c
}

// Levels is the paging depth, 4 or 5.
func (t *Translator) Levels() int { return t.cfg.Levels }

// canonical reports whether bits 63..vaBits-1 are all equal.
func (t *Translator) canonical(vaddr uint64) bool {
	return signExtend(vaddr, t.vaBits) == vaddr
}

func signExtend(v uint64, bits uint) uint64 {
	s := 64 - bits
	return uint64(int64(v<<s) >> s)
}

// Translate walks the page tables for vaddr (no fast paths, no cache).
// A missing translation is a *vmem.FaultError wrapping vmem.ErrNotMapped;
// a page-table page absent from the dump is a *vmem.FaultError wrapping
// the *phys.MissingError.
func (t *Translator) Translate(vaddr uint64) (uint64, error) {
	pa, _, err := t.walk(vaddr)
	return pa, err
}

// VirtToPhys translates like ReadVirt does: fast paths first, then the
// page-table walk (with a small translation cache).
func (t *Translator) VirtToPhys(vaddr uint64) (uint64, error) {
	pa, _, err := t.translate(vaddr)
	return pa, err
}

// translate returns the physical address and how many bytes from vaddr on
// are physically contiguous with it (at least 1).
func (t *Translator) translate(vaddr uint64) (paddr, span uint64, err error) {
	if !t.canonical(vaddr) {
		return 0, 0, t.nonCanonical(vaddr)
	}
	if off := vaddr - StartKernelMap; vaddr >= StartKernelMap && off < t.textSize {
		return KernelTextToPhys(vaddr, t.cfg.PhysBase), t.textSize - off, nil
	}
	if d := t.dm.Load(); d != nil && vaddr >= d.base && vaddr-d.base < d.size {
		// __va()/__pa() for the direct map: vaddr - PAGE_OFFSET.
		return vaddr - d.base, d.size - (vaddr - d.base), nil
	}
	vpn := vaddr >> pageShift
	if pfn, ok := t.tlb.get(vpn); ok {
		off := vaddr & (pageSize - 1)
		return pfn<<pageShift | off, pageSize - off, nil
	}
	pa, size, err := t.walk(vaddr)
	if err != nil {
		return 0, 0, err
	}
	t.tlb.put(vpn, pa>>pageShift)
	return pa, size - (vaddr & (size - 1)), nil
}

func (t *Translator) nonCanonical(vaddr uint64) error {
	return &vmem.FaultError{VAddr: vaddr, Err: fmt.Errorf("non-canonical for %d-level paging: %w", t.cfg.Levels, vmem.ErrNotMapped)}
}

// levelName is the kernel's name for the table level (pgd/p4d/pud/pmd/pte;
// with 4 levels p4d is folded and the top is the pgd).
func (t *Translator) levelName(level int) string {
	if level == t.cfg.Levels {
		return "PGD"
	}
	return [...]string{"", "PTE", "PMD", "PUD", "P4D"}[level]
}

// walk does the hardware walk: returns the physical address and the size
// of the leaf page (4 KiB, 2 MiB or 1 GiB) that maps vaddr.
func (t *Translator) walk(vaddr uint64) (paddr, size uint64, err error) {
	if !t.canonical(vaddr) {
		return 0, 0, t.nonCanonical(vaddr)
	}
	table := t.top
	b := make([]byte, 8) // escapes through the interface: one allocation per walk
	for level := t.cfg.Levels; level >= 1; level-- {
		shift := uint(pageShift + 9*(level-1))
		slot := table + (vaddr>>shift&511)*8
		err := t.mem.ReadPhys(b, slot)
		entry := binary.LittleEndian.Uint64(b)
		if err != nil {
			if phys.IsMissing(err) {
				return 0, 0, &vmem.FaultError{VAddr: vaddr, Err: fmt.Errorf("%s table at %#x: %w", t.levelName(level), table, err)}
			}
			return 0, 0, fmt.Errorf("x86: reading %s entry at %#x for %#x: %w", t.levelName(level), slot, vaddr, err)
		}
		if entry&pagePresent == 0 {
			return 0, 0, &vmem.FaultError{VAddr: vaddr, Err: fmt.Errorf("%s entry %#x at %#x not present: %w", t.levelName(level), entry, slot, vmem.ErrNotMapped)}
		}
		leaf := level == 1
		if entry&pagePSE != 0 && level > 1 {
			// PS is a leaf in a PUD (1 GiB) or PMD (2 MiB); reserved above.
			if level > 3 {
				return 0, 0, &vmem.FaultError{VAddr: vaddr, Err: fmt.Errorf("%s entry %#x at %#x has the reserved PS bit: %w", t.levelName(level), entry, slot, vmem.ErrNotMapped)}
			}
			leaf = true
		}
		if leaf {
			size = uint64(1) << shift
			// Masking to the page size also drops the huge-page PAT bit 12
			// (PHYSICAL_PMD_PAGE_MASK / PHYSICAL_PUD_PAGE_MASK).
			return entry&t.addrMask&^(size-1) | vaddr&(size-1), size, nil
		}
		table = entry & t.addrMask
	}
	return 0, 0, fmt.Errorf("x86: no leaf for %#x", vaddr) // Levels >= 1: not reached
}

// ReadVirt implements vmem.Reader. It translates once per physically
// contiguous piece (page, huge page, or fast-path range). A fault names the
// first byte that could not be read.
func (t *Translator) ReadVirt(buf []byte, vaddr uint64) error {
	for len(buf) > 0 {
		paddr, span, err := t.translate(vaddr)
		if err != nil {
			return err
		}
		n := uint64(len(buf))
		if span < n {
			n = span
		}
		if err := t.mem.ReadPhys(buf[:n], paddr); err != nil {
			var me *phys.MissingError
			if errors.As(err, &me) {
				fa := vaddr
				if me.Addr >= paddr && me.Addr-paddr < n {
					fa = vaddr + (me.Addr - paddr)
				}
				return &vmem.FaultError{VAddr: fa, Err: err}
			}
			return fmt.Errorf("x86: reading %#x (physical %#x): %w", vaddr, paddr, err)
		}
		buf = buf[n:]
		vaddr += n
	}
	return nil
}

// tlb is a small direct-mapped cache of walked page → frame translations.
type tlb struct {
	mu sync.Mutex
	e  [tlbSize]tlbEntry
}

const tlbSize = 256

type tlbEntry struct {
	vpn, pfn uint64
	valid    bool
}

func (c *tlb) get(vpn uint64) (uint64, bool) {
	c.mu.Lock()
	e := c.e[vpn%tlbSize]
	c.mu.Unlock()
	if e.valid && e.vpn == vpn {
		return e.pfn, true
	}
	return 0, false
}

func (c *tlb) put(vpn, pfn uint64) {
	c.mu.Lock()
	c.e[vpn%tlbSize] = tlbEntry{vpn: vpn, pfn: pfn, valid: true}
	c.mu.Unlock()
}

var _ vmem.Reader = (*Translator)(nil)
