package x86

import (
	"encoding/binary"
	"fmt"

	"github.com/panicscope/panicscope/vmcore/arch"
)

// PtRegs is x86_64 struct pt_regs (arch/x86/include/asm/ptrace.h): what
// entry code saves on the stack on an interrupt, exception or system call,
// and the first 21 registers of the NT_PRSTATUS register set.
type PtRegs struct {
	R15, R14, R13, R12, BP, BX, R11, R10 uint64
	R9, R8, AX, CX, DX, SI, DI, OrigAX   uint64
	IP, CS, Flags, SP, SS                uint64
	// Partial is set for a REGS_PARTIAL (IRET) frame: only IP, CS, Flags,
	// SP and SS were saved; the other fields are zero.
	Partial bool
}

// PtRegsSize is sizeof(struct pt_regs) on x86_64.
const PtRegsSize = 21 * 8

// IretFrameOffset is IRET_FRAME_OFFSET (arch/x86/include/asm/unwind.h):
// offsetof(struct pt_regs, ip); IretFrameSize is IRET_FRAME_SIZE.
const (
	IretFrameOffset = 16 * 8
	IretFrameSize   = PtRegsSize - IretFrameOffset
)

// Words returns the registers in struct pt_regs order.
func (r *PtRegs) Words() [21]uint64 {
	return [21]uint64{r.R15, r.R14, r.R13, r.R12, r.BP, r.BX, r.R11, r.R10, r.R9, r.R8,
		r.AX, r.CX, r.DX, r.SI, r.DI, r.OrigAX, r.IP, r.CS, r.Flags, r.SP, r.SS}
}

// DecodePtRegs decodes a struct pt_regs image of PtRegsSize bytes.
func DecodePtRegs(b []byte) PtRegs {
	var w [21]uint64
	for i := range w {
		w[i] = binary.LittleEndian.Uint64(b[8*i:])
	}
	return PtRegs{
		R15: w[0], R14: w[1], R13: w[2], R12: w[3], BP: w[4], BX: w[5], R11: w[6], R10: w[7],
		R9: w[8], R8: w[9], AX: w[10], CX: w[11], DX: w[12], SI: w[13], DI: w[14], OrigAX: w[15],
		IP: w[16], CS: w[17], Flags: w[18], SP: w[19], SS: w[20],
	}
}

// DecodeIret decodes the 5-word IRET frame {ip, cs, flags, sp, ss}.
func DecodeIret(b []byte) PtRegs {
	le := binary.LittleEndian
	return PtRegs{IP: le.Uint64(b[0:]), CS: le.Uint64(b[8:]), Flags: le.Uint64(b[16:]),
		SP: le.Uint64(b[24:]), SS: le.Uint64(b[32:]), Partial: true}
}

// UserMode is user_mode() (arch/x86/include/asm/ptrace.h): the saved CS
// has a non-zero privilege level.
func (r *PtRegs) UserMode() bool { return r.CS&3 != 0 }

// Arch is r as neutral registers, in the order crash's bt lists an
// exception frame; a partial frame has only the IRET words.
func (r *PtRegs) Arch() arch.Regs {
	out := arch.Regs{PC: r.IP, SP: r.SP, FP: r.BP, User: r.UserMode(), Partial: r.Partial}
	out.List = []arch.Register{{Name: "rip", Value: r.IP}, {Name: "cs", Value: r.CS}, {Name: "rflags", Value: r.Flags},
		{Name: "rsp", Value: r.SP}, {Name: "ss", Value: r.SS}}
	if r.Partial {
		out.PartialNote = "iret frame only"
		return out
	}
	out.List = append(out.List, []arch.Register{{Name: "rax", Value: r.AX}, {Name: "rbx", Value: r.BX},
		{Name: "rcx", Value: r.CX}, {Name: "rdx", Value: r.DX}, {Name: "rsi", Value: r.SI}, {Name: "rdi", Value: r.DI},
		{Name: "rbp", Value: r.BP}, {Name: "r8", Value: r.R8}, {Name: "r9", Value: r.R9}, {Name: "r10", Value: r.R10},
		{Name: "r11", Value: r.R11}, {Name: "r12", Value: r.R12}, {Name: "r13", Value: r.R13}, {Name: "r14", Value: r.R14},
		{Name: "r15", Value: r.R15}, {Name: "orig_rax", Value: r.OrigAX}}...)
	return out
}

// PtRegsFromArch reads neutral registers back into struct pt_regs, by the
// names of either struct pt_regs frames (Arch) or struct user_regs_struct
// (NT_PRSTATUS: "eflags" for the flags).
func PtRegsFromArch(a arch.Regs) PtRegs {
	r := PtRegs{Partial: a.Partial}
	for _, x := range a.List {
		switch x.Name {
		case "r15":
			r.R15 = x.Value
		case "r14":
			r.R14 = x.Value
		case "r13":
			r.R13 = x.Value
		case "r12":
			r.R12 = x.Value
		case "rbp":
			r.BP = x.Value
		case "rbx":
			r.BX = x.Value
		case "r11":
			r.R11 = x.Value
		case "r10":
			r.R10 = x.Value
		case "r9":
			r.R9 = x.Value
		case "r8":
			r.R8 = x.Value
		case "rax":
			r.AX = x.Value
		case "rcx":
			r.CX = x.Value
		case "rdx":
			r.DX = x.Value
		case "rsi":
			r.SI = x.Value
		case "rdi":
			r.DI = x.Value
		case "orig_rax":
			r.OrigAX = x.Value
		case "rip":
			r.IP = x.Value
		case "cs":
			r.CS = x.Value
		case "rflags", "eflags":
			r.Flags = x.Value
		case "rsp":
			r.SP = x.Value
		case "ss":
			r.SS = x.Value
		}
	}
	return r
}

// Lines renders the registers the way crash's bt does.
func (r *PtRegs) Lines() []string {
	if r.Partial {
		return []string{
			fmt.Sprintf("RIP: %016x  RSP: %016x  RFLAGS: %08x", r.IP, r.SP, r.Flags),
			fmt.Sprintf("CS: %04x  SS: %04x  (IRET frame only)", r.CS, r.SS),
		}
	}
	return []string{
		fmt.Sprintf("RIP: %016x  RSP: %016x  RFLAGS: %08x", r.IP, r.SP, r.Flags),
		fmt.Sprintf("RAX: %016x  RBX: %016x  RCX: %016x", r.AX, r.BX, r.CX),
		fmt.Sprintf("RDX: %016x  RSI: %016x  RDI: %016x", r.DX, r.SI, r.DI),
		fmt.Sprintf("RBP: %016x   R8: %016x   R9: %016x", r.BP, r.R8, r.R9),
		fmt.Sprintf("R10: %016x  R11: %016x  R12: %016x", r.R10, r.R11, r.R12),
		fmt.Sprintf("R13: %016x  R14: %016x  R15: %016x", r.R13, r.R14, r.R15),
		fmt.Sprintf("ORIG_RAX: %016x  CS: %04x  SS: %04x", r.OrigAX, r.CS, r.SS),
	}
}
