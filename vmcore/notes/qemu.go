package notes

import (
	"encoding/binary"
	"fmt"
)

// QEMUSegment is QEMU's struct QEMUCPUSegment (target/i386/arch_dump.c): a
// segment register or descriptor-table register as QEMU caches it.
type QEMUSegment struct {
	Selector uint32
	Limit    uint32
	Flags    uint32 // descriptor bits 8..23 as in SegmentCache.flags (DESC_L_MASK etc.)
	Base     uint64
}

// QEMUCPU is QEMU's struct QEMUCPUState (target/i386/arch_dump.c,
// qemu_get_cpustate), the descriptor of the "QEMU" note written for every
// vCPU by dump-guest-memory. Unlike NT_PRSTATUS it carries the control
// registers, so the page tables (CR3) and the paging mode (CR4.LA57) are known
// without VMCOREINFO.
//
// QEMUCPUSTATE_VERSION is 1. Later QEMU versions (7.2, which made the
// fixtures, among them) append kernel_gs_base after cr[5] without changing
// the version (size 440 instead of 432); HasKernelGSBase tells whether the
// descriptor has it.
type QEMUCPU struct {
	Version uint32
	Size    uint32 // the writer's sizeof(QEMUCPUState)

	RAX, RBX, RCX, RDX, RSI, RDI, RSP, RBP uint64
	R8, R9, R10, R11, R12, R13, R14, R15   uint64
	RIP, RFlags                            uint64

	CS, DS, ES, FS, GS, SS QEMUSegment
	LDT, TR, GDT, IDT      QEMUSegment

	CR0, CR1, CR2, CR3, CR4 uint64 // cr[5]; CR3 is the page-table root, CR4.LA57 the paging mode

	KernelGSBase    uint64 // MSR_KERNEL_GS_BASE (the swapgs shadow)
	HasKernelGSBase bool
}

// Layout of QEMUCPUState.
const (
	qemuSegmentSize     = 24
	qemuSegmentsOffset  = 8 + 18*8                                // version, size, 16 GPRs, rip, rflags
	qemuCROffset        = qemuSegmentsOffset + 10*qemuSegmentSize // 392
	QEMUCPUStateSizeV1  = qemuCROffset + 5*8                      // 432: the original layout
	QEMUCPUStateSizeKGS = QEMUCPUStateSizeV1 + 8                  // 440: with kernel_gs_base
	cr4LA57             = 1 << 12
)

// QEMUCPUState decodes the descriptor of a "QEMU" note (type 0).
func QEMUCPUState(desc []byte) (*QEMUCPU, error) {
	if len(desc) < QEMUCPUStateSizeV1 {
		return nil, fmt.Errorf("notes: QEMU note descriptor is %d bytes, QEMUCPUState needs at least %d",
			len(desc), QEMUCPUStateSizeV1)
	}
	le := binary.LittleEndian
	s := &QEMUCPU{
		Version: le.Uint32(desc[0:]),
		Size:    le.Uint32(desc[4:]),
	}
	if s.Version == 0 {
		return nil, fmt.Errorf("notes: QEMU note has QEMUCPUState version 0")
	}
	u := func(o int) uint64 { return le.Uint64(desc[o:]) }
	gprs := []*uint64{&s.RAX, &s.RBX, &s.RCX, &s.RDX, &s.RSI, &s.RDI, &s.RSP, &s.RBP,
		&s.R8, &s.R9, &s.R10, &s.R11, &s.R12, &s.R13, &s.R14, &s.R15, &s.RIP, &s.RFlags}
	for i, r := range gprs {
		*r = u(8 + 8*i)
	}
	segs := []*QEMUSegment{&s.CS, &s.DS, &s.ES, &s.FS, &s.GS, &s.SS, &s.LDT, &s.TR, &s.GDT, &s.IDT}
	for i, sg := range segs {
		o := qemuSegmentsOffset + qemuSegmentSize*i
		*sg = QEMUSegment{
			Selector: le.Uint32(desc[o:]),
			Limit:    le.Uint32(desc[o+4:]),
			Flags:    le.Uint32(desc[o+8:]),
			Base:     u(o + 16), // after the 4-byte pad
		}
	}
	for i, cr := range []*uint64{&s.CR0, &s.CR1, &s.CR2, &s.CR3, &s.CR4} {
		*cr = u(qemuCROffset + 8*i)
	}
	// kernel_gs_base is there when both the writer's size and the
	// descriptor are long enough.
	if s.Size >= QEMUCPUStateSizeKGS && len(desc) >= QEMUCPUStateSizeKGS {
		s.KernelGSBase = u(QEMUCPUStateSizeV1)
		s.HasKernelGSBase = true
	}
	return s, nil
}

// LA57 reports whether CR4.LA57 (bit 12) is set: 5-level paging.
func (s *QEMUCPU) LA57() bool { return s.CR4&cr4LA57 != 0 }

// GSBase is the GS segment base: in kernel mode on x86_64 Linux, this CPU's
// per-cpu area (__per_cpu_offset); in user mode see KernelGSBase.
func (s *QEMUCPU) GSBase() uint64 { return s.GS.Base }

// IP is the instruction pointer (RIP).
func (s *QEMUCPU) IP() uint64 { return s.RIP }

// SP is the stack pointer (RSP).
func (s *QEMUCPU) SP() uint64 { return s.RSP }

// Regs returns the general registers in the NT_PRSTATUS layout, so callers
// can treat both notes alike. OrigRAX is 0; segment selectors fill CS..GS.
func (s *QEMUCPU) Regs() Regs {
	return Regs{
		R15: s.R15, R14: s.R14, R13: s.R13, R12: s.R12, RBP: s.RBP, RBX: s.RBX,
		R11: s.R11, R10: s.R10, R9: s.R9, R8: s.R8, RAX: s.RAX, RCX: s.RCX,
		RDX: s.RDX, RSI: s.RSI, RDI: s.RDI, RIP: s.RIP,
		CS: uint64(s.CS.Selector), EFLAGS: s.RFlags, RSP: s.RSP, SS: uint64(s.SS.Selector),
		FSBase: s.FS.Base, GSBase: s.GS.Base,
		DS: uint64(s.DS.Selector), ES: uint64(s.ES.Selector),
		FS: uint64(s.FS.Selector), GS: uint64(s.GS.Selector),
	}
}

// PRStatuses decodes every NT_PRSTATUS note named "CORE", in note order (one
// per CPU, in the order the writer listed the CPUs).
func PRStatuses(ns []Note) ([]*ElfPRStatus, error) {
	var out []*ElfPRStatus
	for i, n := range Filter(ns, NameCore, NT_PRSTATUS) {
		p, err := PRStatus(n.Desc)
		if err != nil {
			return nil, fmt.Errorf("NT_PRSTATUS #%d: %w", i, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// QEMUCPUs decodes every "QEMU" note, in note order (one per vCPU).
func QEMUCPUs(ns []Note) ([]*QEMUCPU, error) {
	var out []*QEMUCPU
	for i, n := range Filter(ns, NameQEMU, NT_QEMUCPU) {
		s, err := QEMUCPUState(n.Desc)
		if err != nil {
			return nil, fmt.Errorf("QEMU note #%d: %w", i, err)
		}
		out = append(out, s)
	}
	return out, nil
}
