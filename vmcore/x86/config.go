package x86

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/panicscope/panicscope/vmcore/phys"
	"github.com/panicscope/panicscope/vmcore/vmcoreinfo"
	"github.com/panicscope/panicscope/vmcore/vmem"
)

// ConfigFromVMCOREINFO builds a Config from the keys written by
// arch_crash_save_vmcoreinfo() (arch/x86/kernel/machine_kexec_64.c):
// NUMBER(phys_base), SYMBOL(init_top_pgt), NUMBER(pgtable_l5_enabled),
// KERNELOFFSET, NUMBER(KERNEL_IMAGE_SIZE) and NUMBER(sme_mask).
//
// PageOffset comes from the page_offset_base variable when VMCOREINFO names
// it (read through the page tables), else from FindPageOffset; either must
// map physical 0 or it is not used. If neither works it stays 0 (unknown):
// translation does not need it, the direct-map aliases (LinearAliases) do.
func ConfigFromVMCOREINFO(mem phys.Memory, info *vmcoreinfo.Info) (Config, error) {
	var cfg Config
	if info == nil {
		return cfg, errors.New("x86: no VMCOREINFO")
	}
	// Printed with %ld, so a kernel loaded below its link address shows a
	// negative value; the kernel adds it as an unsigned long.
	pb, err := info.Number("phys_base")
	if err != nil {
		return cfg, fmt.Errorf("x86: %w", err)
	}
	cfg.PhysBase = uint64(pb)

	// init_top_pgt since 4.13; init_level4_pgt before; swapper_pg_dir is
	// the same table under its generic name.
	var pgd uint64
	for _, name := range []string{"init_top_pgt", "init_level4_pgt", "swapper_pg_dir"} {
		if pgd, err = info.Symbol(name); err == nil {
			break
		}
	}
	if err != nil {
		return cfg, fmt.Errorf("x86: no top-level page table symbol: %w", err)
	}
	if pgd < StartKernelMap {
		return cfg, fmt.Errorf("x86: page table symbol %#x is not a kernel-image address", pgd)
	}
	cfg.TopPGD = KernelTextToPhys(pgd, cfg.PhysBase)

	cfg.Levels = 4
	if l5, err := info.Number("pgtable_l5_enabled"); err == nil && l5 != 0 {
		cfg.Levels = 5
	}
	cfg.KASLROffset, _ = info.KernelOffset()
	if v, err := info.Number("sme_mask"); err == nil {
		cfg.SMEMask = uint64(v)
	}
	if v, err := info.Number("KERNEL_IMAGE_SIZE"); err == nil && v > 0 {
		cfg.KernelImageSize = uint64(v)
	}

	t, err := New(mem, cfg)
	if err != nil {
		return cfg, err
	}
	if sym, err := info.Symbol("page_offset_base"); err == nil {
		if po, err := vmem.ReadU64(t, sym); err == nil && t.mapsPhysZero(po) {
			cfg.PageOffset = po
		}
	}
	if cfg.PageOffset == 0 {
		if po, err := t.FindPageOffset(); err == nil {
			cfg.PageOffset = po
		}
	}
	return cfg, nil
}

// mapsPhysZero reports whether po is a plausible page_offset_base: a page
// aligned kernel-half address that the page tables map to physical 0
// (init_mem_mapping() always maps [0, ISA_END_ADDRESS) in the direct map).
func (t *Translator) mapsPhysZero(po uint64) bool {
	if po&(pageSize-1) != 0 || po>>63 == 0 {
		return false
	}
	pa, err := t.Translate(po)
	return err == nil && pa == 0
}

// ErrNoDirectMap is returned by FindPageOffset when the scan fails.
var ErrNoDirectMap = errors.New("direct map not found")

// FindPageOffset finds page_offset_base without symbols: the direct map is
// the first region mapped at or above __PAGE_OFFSET_BASE (memory KASLR only
// moves it up, and keeps vmalloc and vmemmap after it:
// kernel_randomize_memory(), arch/x86/mm/kaslr.c), and its first page maps
// physical 0. The pre-4.20 base is tried first; if what is mapped there is
// not physical 0 (the LDT remap of a process's page tables), the scan
// restarts at the 4.20+ base.
func (t *Translator) FindPageOffset() (uint64, error) {
	starts := []uint64{oldPageOffset4, DefaultPageOffset4}
	if t.cfg.Levels == 5 {
		starts = []uint64{oldPageOffset5, DefaultPageOffset5}
	}
	var last error = ErrNoDirectMap
	for _, from := range starts {
		va, pa, err := t.firstMapped(from)
		if err != nil {
			last = err
			continue
		}
		if pa == 0 {
			return va, nil
		}
		last = fmt.Errorf("%w: first mapping at or above %#x is %#x -> physical %#x", ErrNoDirectMap, from, va, pa)
	}
	return 0, fmt.Errorf("x86: %w", last)
}

// firstMapped finds the lowest mapped kernel address >= from (from must be
// in the kernel half) and its physical address. It reads at most
// maxScanTables page-table pages.
func (t *Translator) firstMapped(from uint64) (vaddr, paddr uint64, err error) {
	const maxScanTables = 64
	budget := maxScanTables
	var scan func(level int, table, base uint64) (bool, uint64, uint64, error)
	scan = func(level int, table, base uint64) (bool, uint64, uint64, error) {
		if budget == 0 {
			return false, 0, 0, fmt.Errorf("%w: gave up after %d page tables", ErrNoDirectMap, maxScanTables)
		}
		budget--
		var page [pageSize]byte
		if err := t.mem.ReadPhys(page[:], table); err != nil {
			return false, 0, 0, fmt.Errorf("%s table at %#x: %w", t.levelName(level), table, err)
		}
		shift := uint(pageShift + 9*(level-1))
		first := 0
		switch {
		case level == t.cfg.Levels:
			first = int(from >> shift & 511)
		case from > base:
			first = int((from - base) >> shift)
		}
		for i := first; i < 512; i++ {
			e := binary.LittleEndian.Uint64(page[i*8:])
			if e&pagePresent == 0 {
				continue
			}
			va := base + uint64(i)<<shift
			if level == t.cfg.Levels {
				va = signExtend(uint64(i)<<shift, t.vaBits)
			}
			if level == 1 || (e&pagePSE != 0 && level <= 3) {
				size := uint64(1) << shift
				pa := e & t.addrMask &^ (size - 1)
				if from > va { // from lies inside this leaf
					pa += from - va
					va = from
				}
				return true, va, pa, nil
			}
			if e&pagePSE != 0 {
				continue // reserved at the top levels
			}
			found, v, p, err := scan(level-1, e&t.addrMask, va)
			if err != nil || found {
				return found, v, p, err
			}
		}
		return false, 0, 0, nil
	}
	found, va, pa, err := scan(t.cfg.Levels, t.top, 0)
	if err != nil {
		return 0, 0, err
	}
	if !found {
		return 0, 0, fmt.Errorf("%w: nothing mapped at or above %#x", ErrNoDirectMap, from)
	}
	return va, pa, nil
}
