// Package arch is the seam between the architecture-neutral layers and one
// machine's specifics: address translation, the registers the dump notes
// save, the kernel's pt_regs layout and how saved return addresses are
// read. The neutral layers (vmcore, analysis, views, cmd) see only this
// package's types; an implementation (vmcore/x86 for x86_64, vmcore/arm64)
// lives behind it.
//
// The interface follows drgn's struct drgn_architecture_info
// (libdrgn/platform.h: registers, prstatus_get_initial_registers,
// pt_regs_get_initial_registers, linux_kernel_pgtable_iterator_*,
// demangle_cfi_registers for arm64 pointer authentication) and delve's
// per-architecture files (pkg/proc/amd64_arch.go, arm64_arch.go: PC/SP/BP
// register numbers, register formatting).
package arch

import (
	"debug/elf"
	"errors"
	"fmt"
	"strings"

	"github.com/panicscope/panicscope/vmcore/phys"
	"github.com/panicscope/panicscope/vmcore/vmcoreinfo"
	"github.com/panicscope/panicscope/vmcore/vmem"
)

// Arch is one machine architecture as a crash dump shows it.
type Arch interface {
	// Name is the machine as uname -m prints it ("x86_64", "aarch64").
	Name() string
	// ELFMachine is the e_machine of this architecture's cores.
	ELFMachine() elf.Machine
	// MatchVMCOREINFO reports whether info holds keys only this
	// architecture's arch_crash_save_vmcoreinfo() writes: the way to
	// recognise a dump whose header names no machine.
	MatchVMCOREINFO(info *vmcoreinfo.Info) bool
	// PRStatusSize is the size of this architecture's struct elf_prstatus
	// (the NT_PRSTATUS descriptor).
	PRStatusSize() int

	// PRStatus decodes an NT_PRSTATUS descriptor.
	PRStatus(desc []byte) (PRStatus, error)
	// HypervisorNote decodes a per-CPU note a hypervisor writes beside
	// NT_PRSTATUS (QEMU's "QEMU" note); ok is false for any other note.
	HypervisorNote(name string, typ uint32, desc []byte) (cpu HypervisorCPU, ok bool, err error)

	// NewTranslator builds the kernel address translation from VMCOREINFO
	// over the dump's physical memory.
	NewTranslator(mem phys.Memory, info *vmcoreinfo.Info) (Translator, error)

	// PtRegsSize is sizeof(struct pt_regs): what entry code saves on the
	// stack for an interrupted context.
	PtRegsSize() int
	// DecodePtRegs decodes a struct pt_regs image of PtRegsSize bytes.
	DecodePtRegs(b []byte) Regs
	// RegsLines renders registers the way crash's bt shows an exception
	// frame.
	RegsLines(r Regs) []string
	// PCName is the program counter as crash names it in an exception
	// frame ("RIP", "PC").
	PCName() string
}

// PRStatus is what an NT_PRSTATUS note says about one CPU.
type PRStatus struct {
	// PID is pr_pid: the pid of the task the CPU ran (0 for the idle task;
	// QEMU writes its vCPU index + 1).
	PID  int
	Regs Regs
}

// HypervisorCPU is a hypervisor's view of one vCPU (QEMU's CPU-state note).
type HypervisorCPU struct {
	// Control lists system registers the guest's own notes do not save
	// (x86_64: cr3, cr4), shown after the general registers.
	Control []Register
}

// Translator maps kernel virtual addresses to physical ones and reads
// through them. It is safe for concurrent use.
type Translator interface {
	vmem.Reader
	// Walk translates vaddr by the page-table walk alone: no fast path, no
	// cache. An unmapped address is a *vmem.FaultError wrapping
	// vmem.ErrNotMapped.
	Walk(vaddr uint64) (uint64, error)
	// VirtToPhys translates as ReadVirt does.
	VirtToPhys(vaddr uint64) (uint64, error)
	// Layout is the address-space facts in use.
	Layout() Layout
	// LinearAliases lists the kernel virtual addresses that map paddr by a
	// fixed offset (x86_64: the direct map and the kernel image; arm64:
	// the linear map and the kernel image).
	LinearAliases(paddr uint64) []uint64
	// CodeAddress is a saved return address as the code address it points
	// at. It is per dump: arm64 strips the pointer-authentication bits
	// VMCOREINFO's NUMBER(KERNELPACMASK) names; x86_64 returns addr.
	CodeAddress(addr uint64) uint64
}

// Layout describes a kernel's address space.
type Layout struct {
	PageSize uint64
	// Levels is the page-table depth (x86_64: 4 or 5; arm64: 2 to 5).
	Levels int
	// VABits is the kernel virtual address width in use.
	VABits int
	// ConfigVABits is the configured width when it differs from the one
	// in use (arm64: VMCOREINFO's VA_BITS 52 on a CPU running 48-bit), 0
	// otherwise.
	ConfigVABits int
	// PhysBase is where the kernel image sits relative to its link address
	// (x86_64 phys_base); HasPhysBase is false when the architecture has
	// no such value.
	PhysBase    uint64
	HasPhysBase bool
	// KASLROffset is the kernel text slide (KERNELOFFSET).
	KASLROffset uint64
	// PageOffset is the start of the direct (linear) map, 0 when unknown.
	PageOffset uint64
}

// ErrUnsupported is matched (errors.Is) by every *UnsupportedError.
var ErrUnsupported = errors.New("unsupported")

// UnsupportedError is a dump of an architecture panicscope cannot read, or
// one whose architecture it cannot tell.
type UnsupportedError struct {
	Machine string // what the dump says, "" when it says nothing
	Why     string
}

func (e *UnsupportedError) Error() string {
	if e.Machine == "" {
		return "unsupported: " + e.Why
	}
	return fmt.Sprintf("unsupported: %s dump: %s", e.Machine, e.Why)
}

// Is makes errors.Is(err, ErrUnsupported) true.
func (e *UnsupportedError) Is(target error) bool { return target == ErrUnsupported }

// Hints are what a dump says about its machine, strongest first.
type Hints struct {
	// ELFMachine is the ELF core's e_machine (0 for other formats).
	ELFMachine elf.Machine
	// HeaderMachine is the kdump header's utsname.machine ("" when
	// absent; QEMU writes "Unknown" for aarch64).
	HeaderMachine string
	// Info is VMCOREINFO, nil when none was found.
	Info *vmcoreinfo.Info
	// PRStatusSizes are the NT_PRSTATUS descriptor sizes seen.
	PRStatusSizes []int
}

// knownMachines names architectures Linux dumps come from that have no
// implementation here, by e_machine and by uname -m.
var knownMachines = map[elf.Machine]string{
	elf.EM_AARCH64:   "arm64 (aarch64)",
	elf.EM_386:       "i386",
	elf.EM_ARM:       "arm (32-bit)",
	elf.EM_PPC64:     "ppc64",
	elf.EM_S390:      "s390x",
	elf.EM_RISCV:     "riscv64",
	elf.EM_MIPS:      "mips",
	elf.EM_LOONGARCH: "loongarch64",
}

var unameMachines = map[string]elf.Machine{
	"aarch64": elf.EM_AARCH64, "arm64": elf.EM_AARCH64,
	"i386": elf.EM_386, "i486": elf.EM_386, "i586": elf.EM_386, "i686": elf.EM_386,
	"ppc64": elf.EM_PPC64, "ppc64le": elf.EM_PPC64, "s390x": elf.EM_S390,
	"riscv64": elf.EM_RISCV, "loongarch64": elf.EM_LOONGARCH, "mips64": elf.EM_MIPS,
}

// Detect picks the architecture of a dump among supported: the ELF
// machine, else the kdump header's machine, else the VMCOREINFO keys, else
// the NT_PRSTATUS size. An architecture that is named but not supported, or
// none that can be told, is an *UnsupportedError: a dump is never read as
// x86_64 by default.
func Detect(supported []Arch, h Hints) (Arch, error) {
	byMachine := func(m elf.Machine, said string) (Arch, error) {
		for _, a := range supported {
			if a.ELFMachine() == m {
				return a, nil
			}
		}
		name := knownMachines[m]
		if name == "" {
			name = fmt.Sprintf("ELF machine %d", uint16(m))
		}
		if said != "" && said != name {
			name = said + ", " + name
		}
		return nil, &UnsupportedError{Machine: name, Why: "panicscope cannot read dumps of this architecture yet (supported: " + names(supported) + ")"}
	}
	if h.ELFMachine != elf.EM_NONE {
		return byMachine(h.ELFMachine, "")
	}
	if m := strings.TrimSpace(h.HeaderMachine); m != "" && m != "Unknown" {
		for _, a := range supported {
			if a.Name() == m {
				return a, nil
			}
		}
		if em, ok := unameMachines[m]; ok {
			return byMachine(em, m)
		}
		// Quoted: the name comes from the dump and may hold anything.
		if len(m) > 64 {
			m = m[:64]
		}
		return nil, &UnsupportedError{Machine: fmt.Sprintf("%q", m), Why: "the dump header names a machine panicscope does not know"}
	}
	if h.Info != nil {
		for _, a := range supported {
			if a.MatchVMCOREINFO(h.Info) {
				return a, nil
			}
		}
		// arm64's arch_crash_save_vmcoreinfo() (arch/arm64/kernel/
		// vmcore_info.c) writes these, with %lx values: named even when
		// arm64 is not among the supported.
		_, va := h.Info.Get("NUMBER(VA_BITS)")
		_, kv := h.Info.Get("NUMBER(kimage_voffset)")
		if va && kv {
			return byMachine(elf.EM_AARCH64, "")
		}
	}
	if len(h.PRStatusSizes) > 0 {
		for _, a := range supported {
			all := true
			for _, s := range h.PRStatusSizes {
				all = all && s == a.PRStatusSize()
			}
			if all {
				return a, nil
			}
		}
	}
	return nil, &UnsupportedError{Why: "the dump names no machine (no ELF machine, no machine in the header, no architecture keys in VMCOREINFO, no register notes of a known size)"}
}

func names(l []Arch) string {
	var s []string
	for _, a := range l {
		s = append(s, a.Name())
	}
	return strings.Join(s, ", ")
}
