package unwind

import (
	"encoding/binary"
	"encoding/json"
	"fmt"

	"github.com/panicscope/panicscope/vmcore/notes"
)

// Regs is x86_64 struct pt_regs (arch/x86/include/asm/ptrace.h): what entry
// code saves on the stack on an interrupt, exception or system call, and
// the first 21 registers of the NT_PRSTATUS register set.
type Regs struct {
	R15, R14, R13, R12, BP, BX, R11, R10 uint64
	R9, R8, AX, CX, DX, SI, DI, OrigAX   uint64
	IP, CS, Flags, SP, SS                uint64
	// Partial is set for a REGS_PARTIAL (IRET) frame: only IP, CS, Flags,
	// SP and SS were saved; the other fields are zero.
	Partial bool
}

// PtRegsSize is sizeof(struct pt_regs) on x86_64.
const PtRegsSize = 21 * 8

// iretFrameOffset is IRET_FRAME_OFFSET (arch/x86/include/asm/unwind.h):
// offsetof(struct pt_regs, ip); iretFrameSize is IRET_FRAME_SIZE.
const (
	iretFrameOffset = 16 * 8
	iretFrameSize   = PtRegsSize - iretFrameOffset
)

// Byte offsets in struct pt_regs of the registers ORC can use as a base
// (get_reg() in unwind_orc.c).
const (
	offBP  = 4 * 8
	offR10 = 7 * 8
	offR13 = 2 * 8
	offDX  = 12 * 8
	offDI  = 14 * 8
)

// RegsFromNotes converts an NT_PRSTATUS register set.
func RegsFromNotes(r notes.Regs) Regs {
	return Regs{
		R15: r.R15, R14: r.R14, R13: r.R13, R12: r.R12, BP: r.RBP, BX: r.RBX, R11: r.R11, R10: r.R10,
		R9: r.R9, R8: r.R8, AX: r.RAX, CX: r.RCX, DX: r.RDX, SI: r.RSI, DI: r.RDI, OrigAX: r.OrigRAX,
		IP: r.RIP, CS: r.CS, Flags: r.EFLAGS, SP: r.RSP, SS: r.SS,
	}
}

// decodePtRegs decodes a struct pt_regs image of PtRegsSize bytes.
func decodePtRegs(b []byte) Regs {
	var w [21]uint64
	for i := range w {
		w[i] = binary.LittleEndian.Uint64(b[8*i:])
	}
	return Regs{
		R15: w[0], R14: w[1], R13: w[2], R12: w[3], BP: w[4], BX: w[5], R11: w[6], R10: w[7],
		R9: w[8], R8: w[9], AX: w[10], CX: w[11], DX: w[12], SI: w[13], DI: w[14], OrigAX: w[15],
		IP: w[16], CS: w[17], Flags: w[18], SP: w[19], SS: w[20],
	}
}

// decodeIret decodes the 5-word IRET frame {ip, cs, flags, sp, ss}.
func decodeIret(b []byte) Regs {
	le := binary.LittleEndian
	return Regs{IP: le.Uint64(b[0:]), CS: le.Uint64(b[8:]), Flags: le.Uint64(b[16:]),
		SP: le.Uint64(b[24:]), SS: le.Uint64(b[32:]), Partial: true}
}

// UserMode is user_mode() (arch/x86/include/asm/ptrace.h): the saved CS
// has a non-zero privilege level.
func (r *Regs) UserMode() bool { return r.CS&3 != 0 }

// get returns the register at a struct pt_regs byte offset.
func (r *Regs) get(off int) uint64 {
	switch off {
	case offBP:
		return r.BP
	case offR10:
		return r.R10
	case offR13:
		return r.R13
	case offDX:
		return r.DX
	case offDI:
		return r.DI
	}
	return 0
}

// Lines renders the registers the way crash's bt does.
func (r *Regs) Lines() []string {
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

// MarshalJSON writes the registers as lower-case names with hex values
// ("rip": "0xffffffff81000000"); a partial frame has only the IRET words.
func (r Regs) MarshalJSON() ([]byte, error) {
	type kv struct {
		k string
		v uint64
	}
	regs := []kv{{"rip", r.IP}, {"cs", r.CS}, {"rflags", r.Flags}, {"rsp", r.SP}, {"ss", r.SS}}
	if !r.Partial {
		regs = append(regs, []kv{{"rax", r.AX}, {"rbx", r.BX}, {"rcx", r.CX}, {"rdx", r.DX}, {"rsi", r.SI},
			{"rdi", r.DI}, {"rbp", r.BP}, {"r8", r.R8}, {"r9", r.R9}, {"r10", r.R10}, {"r11", r.R11},
			{"r12", r.R12}, {"r13", r.R13}, {"r14", r.R14}, {"r15", r.R15}, {"orig_rax", r.OrigAX}}...)
	}
	m := make(map[string]string, len(regs)+1)
	for _, x := range regs {
		m[x.k] = fmt.Sprintf("%#x", x.v)
	}
	if r.Partial {
		m["partial"] = "iret frame only"
	}
	return json.Marshal(m)
}
