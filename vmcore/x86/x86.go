// Package x86 is x86_64 behind the arch.Arch interface: it translates
// kernel virtual addresses to physical ones over a phys.Memory (and
// implements vmem.Reader on top of that), decodes the x86_64 register
// notes and struct pt_regs.
//
// Every address is translated by walking the 4- or 5-level page tables
// from Config.TopPGD: an address the page tables do not map is a fault,
// even inside the kernel image range or the direct map, whose arithmetic
// (__pa(), __va()) would answer for it. What makes the image and the
// direct map cheap is the cache of walked leaves: they are mapped with
// 2 MiB and 1 GiB pages, each walked once.
package x86

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/panicscope/panicscope/vmcore/arch"
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
	// PageOffset is page_offset_base, the start of the direct map; 0 means
	// unknown. Translation does not depend on it (every address is
	// walked); it places the direct-map aliases of physical pages
	// (LinearAliases).
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
	// KernelImageSize is NUMBER(KERNEL_IMAGE_SIZE), 0 when VMCOREINFO does
	// not say: the size of the kernel image mapping, after which the
	// module area starts. Informational.
	KernelImageSize uint64
}

// KernelTextToPhys translates a kernel-image address
// (__phys_addr_nodebug(), arch/x86/include/asm/page_64.h):
// vaddr - __START_KERNEL_map + phys_base, modulo 2^64. Like __pa(), it also
// answers for image-range addresses past _end that the page tables no
// longer map (cleanup_highmap()), so it is used only for the page-table
// root, never to read memory.
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
	mem        phys.Memory
	cfg        Config
	top        uint64 // masked TopPGD
	addrMask   uint64 // physAddrMask &^ SMEMask
	vaBits     uint   // 48 or 57
	pageOffset atomic.Uint64
	leaves     leafCache
	tlb        *arch.TLB
}

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
		tlb:      arch.NewTLB(256),
	}
	t.top = cfg.TopPGD & t.addrMask
	if t.top == 0 {
		return nil, fmt.Errorf("x86: no top-level page table (TopPGD %#x)", cfg.TopPGD)
	}
	t.SetPageOffset(cfg.PageOffset)
	return t, nil
}

// SetPageOffset records page_offset_base (e.g. read later via kallsyms);
// 0 means unknown. Safe to call while other goroutines read.
func (t *Translator) SetPageOffset(pageOffset uint64) { t.pageOffset.Store(pageOffset) }

// PageOffset is the direct-map base in use, 0 when unknown.
func (t *Translator) PageOffset() uint64 { return t.pageOffset.Load() }

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

// Translate walks the page tables for vaddr (no cache).
// A missing translation is a *vmem.FaultError wrapping vmem.ErrNotMapped;
// a page-table page absent from the dump is a *vmem.FaultError wrapping
// the *phys.MissingError.
func (t *Translator) Translate(vaddr uint64) (uint64, error) {
	pa, _, err := t.walk(vaddr)
	return pa, err
}

// VirtToPhys translates like ReadVirt does: the page-table walk, through
// the caches of walked leaves.
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
	if base, size, ok := t.leaves.get(vaddr); ok {
		off := vaddr & (size - 1)
		return base | off, size - off, nil
	}
	vpn := vaddr >> pageShift
	if pfn, ok := t.tlb.Get(vpn); ok {
		off := vaddr & (pageSize - 1)
		return pfn<<pageShift | off, pageSize - off, nil
	}
	pa, size, err := t.walk(vaddr)
	if err != nil {
		return 0, 0, err
	}
	if size > pageSize {
		t.leaves.put(vaddr, pa&^(size-1), size)
	} else {
		t.tlb.Put(vpn, pa>>pageShift)
	}
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
// contiguous piece (page or huge page). A fault names the first byte that
// could not be read.
func (t *Translator) ReadVirt(buf []byte, vaddr uint64) error {
	return arch.ReadVirt(t.mem, t.translate, "x86", buf, vaddr)
}

// leafCache holds walked 2 MiB and 1 GiB leaves: the kernel image and the
// direct map are mapped with them, so each of their regions is walked
// once. It stops growing at maxLeaves entries (addresses are then walked
// through the page cache).
type leafCache struct {
	mu  sync.RWMutex
	pud map[uint64]uint64 // vaddr >> 30 -> physical base of a 1 GiB leaf
	pmd map[uint64]uint64 // vaddr >> 21 -> physical base of a 2 MiB leaf
}

const (
	pmdShift  = 21
	pudShift  = 30
	maxLeaves = 1 << 16
)

func (c *leafCache) get(vaddr uint64) (base, size uint64, ok bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if b, ok := c.pud[vaddr>>pudShift]; ok {
		return b, 1 << pudShift, true
	}
	if b, ok := c.pmd[vaddr>>pmdShift]; ok {
		return b, 1 << pmdShift, true
	}
	return 0, 0, false
}

func (c *leafCache) put(vaddr, base, size uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.pud)+len(c.pmd) >= maxLeaves {
		return
	}
	switch size {
	case 1 << pudShift:
		if c.pud == nil {
			c.pud = map[uint64]uint64{}
		}
		c.pud[vaddr>>pudShift] = base
	case 1 << pmdShift:
		if c.pmd == nil {
			c.pmd = map[uint64]uint64{}
		}
		c.pmd[vaddr>>pmdShift] = base
	}
}

var _ vmem.Reader = (*Translator)(nil)
