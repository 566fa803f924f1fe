package x86

import (
	"debug/elf"
	"fmt"

	"github.com/panicscope/panicscope/vmcore/arch"
	"github.com/panicscope/panicscope/vmcore/notes"
	"github.com/panicscope/panicscope/vmcore/phys"
	"github.com/panicscope/panicscope/vmcore/vmcoreinfo"
)

// Arch is x86_64 behind the arch.Arch interface.
var Arch arch.Arch = amd64{}

type amd64 struct{}

func (amd64) Name() string            { return "x86_64" }
func (amd64) ELFMachine() elf.Machine { return elf.EM_X86_64 }
func (amd64) PRStatusSize() int       { return notes.PRStatusSize }
func (amd64) PtRegsSize() int         { return PtRegsSize }

// MatchVMCOREINFO: only arch_crash_save_vmcoreinfo() in
// arch/x86/kernel/machine_kexec_64.c writes these keys.
func (amd64) MatchVMCOREINFO(info *vmcoreinfo.Info) bool {
	for _, s := range []string{"init_top_pgt", "init_level4_pgt"} {
		if _, err := info.Symbol(s); err == nil {
			return true
		}
	}
	_, err := info.Number("pgtable_l5_enabled")
	return err == nil
}

// userRegsOrder is the order the registers are shown in, as __show_regs()
// (arch/x86/kernel/process_64.c) groups them; the names are those of
// struct user_regs_struct.
var userRegsOrder = []string{
	"rip", "rsp", "rbp", "rax", "rbx", "rcx", "rdx", "rsi", "rdi",
	"r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "eflags",
	"cs", "ss", "ds", "es", "fs", "gs", "fs_base", "gs_base", "orig_rax",
}

// PRStatus decodes x86_64 struct elf_prstatus.
func (amd64) PRStatus(desc []byte) (arch.PRStatus, error) {
	st, err := notes.PRStatus(desc)
	if err != nil {
		return arch.PRStatus{}, err
	}
	return arch.PRStatus{PID: int(st.Pid), Regs: UserRegs(st.Regs)}, nil
}

// UserRegs is an NT_PRSTATUS register set (struct user_regs_struct) as
// neutral registers in __show_regs() order.
func UserRegs(r notes.Regs) arch.Regs {
	v := map[string]uint64{
		"r15": r.R15, "r14": r.R14, "r13": r.R13, "r12": r.R12, "rbp": r.RBP, "rbx": r.RBX,
		"r11": r.R11, "r10": r.R10, "r9": r.R9, "r8": r.R8, "rax": r.RAX, "rcx": r.RCX,
		"rdx": r.RDX, "rsi": r.RSI, "rdi": r.RDI, "orig_rax": r.OrigRAX, "rip": r.RIP,
		"cs": r.CS, "eflags": r.EFLAGS, "rsp": r.RSP, "ss": r.SS, "fs_base": r.FSBase,
		"gs_base": r.GSBase, "ds": r.DS, "es": r.ES, "fs": r.FS, "gs": r.GS,
	}
	out := arch.Regs{PC: r.RIP, SP: r.RSP, FP: r.RBP, User: r.CS&3 != 0}
	out.List = make([]arch.Register, 0, len(userRegsOrder))
	for _, n := range userRegsOrder {
		out.List = append(out.List, arch.Register{Name: n, Value: v[n]})
	}
	return out
}

// HypervisorNote decodes QEMU's "QEMU" note: its control registers are
// what NT_PRSTATUS lacks.
func (amd64) HypervisorNote(name string, typ uint32, desc []byte) (arch.HypervisorCPU, bool, error) {
	if name != notes.NameQEMU || typ != notes.NT_QEMUCPU {
		return arch.HypervisorCPU{}, false, nil
	}
	q, err := notes.QEMUCPUState(desc)
	if err != nil {
		return arch.HypervisorCPU{}, true, err
	}
	return arch.HypervisorCPU{Control: []arch.Register{{Name: "cr3", Value: q.CR3}, {Name: "cr4", Value: q.CR4}}}, true, nil
}

// NewTranslator builds the translator from VMCOREINFO. For QEMU-written
// dumps the header's phys_base is a guess, so only VMCOREINFO values are
// used.
func (amd64) NewTranslator(mem phys.Memory, info *vmcoreinfo.Info) (arch.Translator, error) {
	cfg, err := ConfigFromVMCOREINFO(mem, info)
	if err != nil {
		return nil, err
	}
	t, err := New(mem, cfg)
	if err != nil {
		return nil, fmt.Errorf("x86 translator: %w", err)
	}
	return t, nil
}

func (amd64) DecodePtRegs(b []byte) arch.Regs {
	r := DecodePtRegs(b)
	return r.Arch()
}

func (amd64) RegsLines(r arch.Regs) []string {
	p := PtRegsFromArch(r)
	return p.Lines()
}

func (amd64) PCName() string { return "RIP" }

// Layout implements arch.Translator.
func (t *Translator) Layout() arch.Layout {
	return arch.Layout{
		PageSize:    pageSize,
		Levels:      t.cfg.Levels,
		VABits:      int(t.vaBits),
		PhysBase:    t.cfg.PhysBase,
		HasPhysBase: true,
		KASLROffset: t.cfg.KASLROffset,
		PageOffset:  t.PageOffset(),
	}
}

// Walk implements arch.Translator: the page-table walk alone.
func (t *Translator) Walk(vaddr uint64) (uint64, error) { return t.Translate(vaddr) }

// LinearAliases implements arch.Translator: paddr in the direct map (when
// page_offset_base is known) and, for the kernel image's pages, in the
// kernel-text mapping.
func (t *Translator) LinearAliases(paddr uint64) []uint64 {
	var out []uint64
	if po := t.PageOffset(); po != 0 {
		out = append(out, po+paddr)
	}
	// phys_base may be negative (the image below its link address).
	if off := paddr - t.cfg.PhysBase; off < 1<<30 {
		out = append(out, StartKernelMap+off)
	}
	return out
}

// CodeAddress implements arch.Translator: x86_64 has no pointer
// authentication.
func (t *Translator) CodeAddress(addr uint64) uint64 { return addr }

var _ arch.Translator = (*Translator)(nil)
