package arm64

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/panicscope/panicscope/vmcore/vmcoreinfo"
)

// number reads NUMBER(name): arm64 prints most of its values with %lx and
// a 0x prefix (kimage_voffset, PHYS_OFFSET, KERNELPACMASK, TCR_EL1_T1SZ),
// VA_BITS in decimal; both are accepted, and values above 2^63.
func number(info *vmcoreinfo.Info, name string) (uint64, error) {
	key := "NUMBER(" + name + ")"
	s, ok := info.Get(key)
	if !ok {
		return 0, fmt.Errorf("%s: %w", key, vmcoreinfo.ErrNoKey)
	}
	s = strings.TrimSpace(s)
	base := 10
	if t, ok := strings.CutPrefix(strings.ToLower(s), "0x"); ok {
		s, base = t, 16
	}
	if v, err := strconv.ParseUint(s, base, 64); err == nil {
		return v, nil
	}
	// A negative %ld value (two's complement, as the kernel adds it).
	v, err := strconv.ParseInt(s, base, 64)
	if err != nil {
		return 0, fmt.Errorf("vmcoreinfo %s=%q: %w", key, s, err)
	}
	return uint64(v), nil
}

// vaBitsInUse is vabits_actual: 64 - NUMBER(TCR_EL1_T1SZ) (written since
// 5.12), else NUMBER(VA_BITS).
func vaBitsInUse(info *vmcoreinfo.Info) (uint, error) {
	if t1sz, err := number(info, "TCR_EL1_T1SZ"); err == nil {
		if t1sz < 12 || t1sz > 39 {
			return 0, fmt.Errorf("arm64: TCR_EL1.T1SZ %d out of range", t1sz)
		}
		return uint(64 - t1sz), nil
	}
	va, err := number(info, "VA_BITS")
	if err != nil {
		return 0, err
	}
	if va < 25 || va > 52 {
		return 0, fmt.Errorf("arm64: VA_BITS %d out of range", va)
	}
	return uint(va), nil
}

// ConfigFromVMCOREINFO builds a Config from what
// arch_crash_save_vmcoreinfo() (arch/arm64/kernel/vmcore_info.c) and
// crash_save_vmcoreinfo_init() write: PAGESIZE, NUMBER(VA_BITS),
// NUMBER(TCR_EL1_T1SZ), NUMBER(kimage_voffset), NUMBER(PHYS_OFFSET),
// KERNELOFFSET, SYMBOL(swapper_pg_dir) and SYMBOL(_stext).
//
// swapper_pg_dir is a kernel-image symbol, so its physical address is
// __kimg_to_phys(): vaddr - kimage_voffset. The granule comes from
// PAGESIZE; the walk's depth from the VA bits in use (TCR_EL1.T1SZ), not
// VA_BITS: a 52-bit kernel on a CPU without LPA2 (4K/16K) or LVA (64K)
// runs 48-bit with one level less (pgtable_l5_enabled()/
// pgtable_l4_enabled() false, the folded level's table is
// swapper_pg_dir itself).
func ConfigFromVMCOREINFO(info *vmcoreinfo.Info) (Config, error) {
	var cfg Config
	if info == nil {
		return cfg, errors.New("arm64: no VMCOREINFO")
	}
	switch info.PageSize() {
	case 4096:
		cfg.PageShift = 12
	case 16384:
		cfg.PageShift = 14
	case 65536:
		cfg.PageShift = 16
	default:
		return cfg, fmt.Errorf("arm64: PAGESIZE %d is not a granule (4K, 16K, 64K)", info.PageSize())
	}
	va, err := number(info, "VA_BITS")
	if err != nil {
		return cfg, fmt.Errorf("arm64: %w", err)
	}
	if va < 25 || va > 52 {
		return cfg, fmt.Errorf("arm64: VA_BITS %d out of range", va)
	}
	cfg.ConfigVABits = uint(va)
	if cfg.VABits, err = vaBitsInUse(info); err != nil {
		return cfg, err
	}
	// 52-bit VA with the 4K or 16K granule exists only with FEAT_LPA2
	// (TCR_EL1.DS), whose descriptors hold OA[51:50] in bits 9:8.
	cfg.LPA2 = cfg.VABits > 48 && cfg.PageShift != 16
	if cfg.KimageVOffset, err = number(info, "kimage_voffset"); err != nil {
		return cfg, fmt.Errorf("arm64: %w", err)
	}
	if cfg.PhysOffset, err = number(info, "PHYS_OFFSET"); err != nil {
		return cfg, fmt.Errorf("arm64: %w", err)
	}
	cfg.KASLROffset, _ = info.KernelOffset()
	// KERNELPACMASK is written when address authentication is in use
	// (arch_crash_save_vmcoreinfo()); GENMASK(63, VABits) strips as much
	// and is harmless without PAC.
	if m, err := number(info, "KERNELPACMASK"); err == nil && m != 0 {
		cfg.PACMask = m
	} else {
		cfg.PACMask = ^uint64(0) << cfg.VABits
	}
	cfg.ImageStart, _ = info.Symbol("_stext")
	pgd, err := info.Symbol("swapper_pg_dir")
	if err != nil {
		return cfg, fmt.Errorf("arm64: no top-level page table: %w", err)
	}
	cfg.TopPGD = pgd - cfg.KimageVOffset
	if err := cfg.check(); err != nil {
		return cfg, err
	}
	return cfg, nil
}
