// Package arm64 is AArch64 behind the arch.Arch interface: the register
// notes (struct elf_prstatus with user_pt_regs), struct pt_regs, pointer
// authentication (PAC bits in saved return addresses) and the translation
// of kernel virtual addresses by the stage-1 page-table walk from
// swapper_pg_dir, for the 4K, 16K and 64K granules and 36- to 52-bit
// virtual addresses (LPA2 and 64K LVA/LPA descriptors included).
//
// The facts come from VMCOREINFO as arch_crash_save_vmcoreinfo()
// (arch/arm64/kernel/vmcore_info.c, crash_core.c before 6.9) writes them:
// NUMBER(VA_BITS), NUMBER(TCR_EL1_T1SZ), NUMBER(kimage_voffset),
// NUMBER(PHYS_OFFSET), NUMBER(KERNELPACMASK), KERNELOFFSET and PAGESIZE.
package arm64

import (
	"debug/elf"
	"fmt"
	"strconv"
	"strings"

	"github.com/panicscope/panicscope/vmcore/arch"
	"github.com/panicscope/panicscope/vmcore/notes"
	"github.com/panicscope/panicscope/vmcore/phys"
	"github.com/panicscope/panicscope/vmcore/vmcoreinfo"
)

// Arch is AArch64 behind the arch.Arch interface.
var Arch arch.Arch = aarch64{}

// Register counts and sizes (arch/arm64/include/uapi/asm/ptrace.h: struct
// user_pt_regs is regs[31], sp, pc, pstate; ELF_NGREG is its size in
// words).
const (
	NumRegs = 34
	// UserPtRegsSize is sizeof(struct user_pt_regs), the head of struct
	// pt_regs that every kernel version shares.
	UserPtRegsSize = NumRegs * 8
	// PRStatusSize is sizeof(struct elf_prstatus) on arm64: the LP64
	// common part, pr_reg and pr_fpvalid with its padding.
	PRStatusSize = notes.PRStatusRegsOffset + UserPtRegsSize + 8
)

type aarch64 struct{}

func (aarch64) Name() string            { return "aarch64" }
func (aarch64) ELFMachine() elf.Machine { return elf.EM_AARCH64 }
func (aarch64) PRStatusSize() int       { return PRStatusSize }

// PtRegsSize is sizeof(struct user_pt_regs): the registers every struct
// pt_regs starts with. The rest (orig_x0, syscallno, stackframe, ...)
// changes between versions; the unwinder takes it from BTF.
func (aarch64) PtRegsSize() int { return UserPtRegsSize }
func (aarch64) PCName() string  { return "PC" }

// MatchVMCOREINFO: arch_crash_save_vmcoreinfo() on arm64 writes
// NUMBER(VA_BITS) and NUMBER(kimage_voffset) (since 4.12); no other
// architecture writes kimage_voffset.
func (aarch64) MatchVMCOREINFO(info *vmcoreinfo.Info) bool {
	_, va := info.Get("NUMBER(VA_BITS)")
	_, kv := info.Get("NUMBER(kimage_voffset)")
	return va && kv
}

// DefaultPACMask is GENMASK_ULL(63, 48): ptrauth_kernel_pac_mask() with
// 48-bit kernel VA, the common case.
const DefaultPACMask = 0xffff000000000000

// StripPAC strips pointer-authentication bits from a saved return
// address, as ptrauth_strip_kernel_insn_pac() does (arch/arm64/include/
// asm/pointer_auth.h): a kernel address (bit 55 set, the TTBR1 half) gets
// the PAC field (mask) set to ones, a user one cleared.
func StripPAC(addr, mask uint64) uint64 {
	if addr&(1<<55) != 0 {
		return addr | mask
	}
	return addr &^ mask
}

// PRStatus decodes arm64 struct elf_prstatus: pr_reg is struct
// user_pt_regs. crash_save_cpu() fills it from the panicking CPU's
// crash_setup_regs() and, on the others, from the interrupted context
// (ipi_cpu_crash_stop()); QEMU (aarch64_write_elf64_prstatus(),
// target/arm/arch_dump.c) writes the vCPU's registers and pid = index + 1.
func (aarch64) PRStatus(desc []byte) (arch.PRStatus, error) {
	if len(desc) < notes.PRStatusRegsOffset+UserPtRegsSize {
		return arch.PRStatus{}, fmt.Errorf("arm64: NT_PRSTATUS descriptor is %d bytes, need %d", len(desc), PRStatusSize)
	}
	c, regs, err := notes.PRStatusRegs(desc, NumRegs)
	if err != nil {
		return arch.PRStatus{}, err
	}
	var r [NumRegs]uint64
	copy(r[:], regs)
	return arch.PRStatus{PID: int(c.Pid), Regs: RegsFromWords(r)}, nil
}

// HypervisorNote recognises QEMU's per-vCPU NT_PRFPREG ("CORE"): QEMU
// writes no CPU-state note for aarch64, but aarch64_write_elf64_note()
// (target/arm/arch_dump.c) adds NT_PRFPREG (and NT_ARM_SVE) beside each
// NT_PRSTATUS, which the kernel's crash_save_cpu() never writes. It says
// QEMU took the dump; it adds no register the walk needs.
func (aarch64) HypervisorNote(name string, typ uint32, _ []byte) (arch.HypervisorCPU, bool, error) {
	return arch.HypervisorCPU{}, name == notes.NameCore && typ == notes.NT_PRFPREG, nil
}

// DecodePtRegs decodes the struct user_pt_regs head of a struct pt_regs;
// a short image gives the registers it holds and is marked partial.
func (aarch64) DecodePtRegs(b []byte) arch.Regs {
	var r [NumRegs]uint64
	n := min(len(b)/8, NumRegs)
	for i := range n {
		r[i] = le64(b[8*i:])
	}
	out := RegsFromWords(r)
	if n < NumRegs {
		out.Partial, out.PartialNote = true, fmt.Sprintf("%d of %d registers", n, NumRegs)
	}
	return out
}

func (aarch64) NewTranslator(mem phys.Memory, info *vmcoreinfo.Info) (arch.Translator, error) {
	cfg, err := ConfigFromVMCOREINFO(info)
	if err != nil {
		return nil, err
	}
	t, err := New(mem, cfg)
	if err != nil {
		return nil, err
	}
	t.FindPageOffset()
	return t, nil
}

// Register names in the order __show_regs() prints them
// (arch/arm64/kernel/process.c): pc, lr, sp, pstate, then x29 down to x0.
var showOrder = func() []string {
	l := []string{"pc", "lr", "sp", "pstate"}
	for i := 29; i >= 0; i-- {
		l = append(l, "x"+strconv.Itoa(i))
	}
	return l
}()

// PSTATE fields (arch/arm64/include/uapi/asm/ptrace.h).
const (
	psrModeMask = 0x0000000f // PSR_MODE_MASK
	psrModeEL0t = 0x00000000
	psrMode32   = 0x00000010 // PSR_MODE32_BIT: an AArch32 (compat) task
)

// RegsFromWords is struct user_pt_regs (regs[0..30], sp, pc, pstate) as
// neutral registers in __show_regs() order.
func RegsFromWords(w [NumRegs]uint64) arch.Regs {
	val := func(name string) uint64 {
		switch name {
		case "pc":
			return w[32]
		case "lr":
			return w[30]
		case "sp":
			return w[31]
		case "pstate":
			return w[33]
		}
		i, _ := strconv.Atoi(name[1:])
		return w[i]
	}
	out := arch.Regs{PC: w[32], SP: w[31], FP: w[29], List: make([]arch.Register, 0, len(showOrder))}
	// user_mode(): PSTATE.M is EL0t, or the task runs AArch32.
	out.User = w[33]&psrMode32 != 0 || w[33]&psrModeMask == psrModeEL0t
	for _, n := range showOrder {
		out.List = append(out.List, arch.Register{Name: n, Value: val(n)})
	}
	return out
}

// Words is the inverse of RegsFromWords: user_pt_regs order.
func Words(r arch.Regs) [NumRegs]uint64 {
	var w [NumRegs]uint64
	for _, x := range r.List {
		switch x.Name {
		case "pc":
			w[32] = x.Value
		case "lr":
			w[30] = x.Value
		case "sp":
			w[31] = x.Value
		case "pstate":
			w[33] = x.Value
		default:
			if i, err := strconv.Atoi(strings.TrimPrefix(x.Name, "x")); err == nil && i >= 0 && i <= 30 && x.Name[0] == 'x' {
				w[i] = x.Value
			}
		}
	}
	return w
}

// RegsLines renders registers as the kernel's __show_regs() does.
func (aarch64) RegsLines(r arch.Regs) []string {
	w := Words(r)
	out := []string{
		fmt.Sprintf("pc : %016x", w[32]),
		fmt.Sprintf("lr : %016x", w[30]),
		fmt.Sprintf("sp : %016x  pstate: %08x", w[31], w[33]),
	}
	for i := 29; i >= 0; i -= 3 {
		var parts []string
		for j := i; j > i-3 && j >= 0; j-- {
			parts = append(parts, fmt.Sprintf("x%-2d: %016x", j, w[j]))
		}
		out = append(out, strings.Join(parts, " "))
	}
	return out
}

func le64(b []byte) uint64 {
	_ = b[7]
	return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
		uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
}

var _ arch.Arch = aarch64{}
