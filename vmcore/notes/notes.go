// Package notes parses ELF note segments as found in crash dumps: the PT_NOTE
// segments of ELF cores and the note blob that makedumpfile and QEMU copy into
// the kdump-compressed sub-header. It decodes the notes a crash tool needs:
// NT_PRSTATUS (the LP64 common part for any architecture, x86_64's register
// layout), QEMU's x86_64 per-vCPU "QEMU" note and the kernel's VMCOREINFO
// text. Which layout a dump's notes have is the architecture's call
// (vmcore/arch).
//
// All decoders work on byte slices and never panic on hostile input.
package notes

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// Note types (n_type) seen in Linux crash dumps (include/uapi/linux/elf.h).
// The "QEMU" and "VMCOREINFO" notes use type 0 and are told apart by name.
const (
	NT_PRSTATUS   = 1     // struct elf_prstatus, name "CORE"
	NT_PRFPREG    = 2     // struct user_i387_struct, name "CORE"
	NT_PRPSINFO   = 3     // struct elf_prpsinfo, name "CORE"
	NT_TASKSTRUCT = 4     // name "CORE"
	NT_AUXV       = 6     // name "CORE"
	NT_X86_XSTATE = 0x202 // name "LINUX"
	NT_VMCOREINFO = 0     // name "VMCOREINFO" (kernel/crash_core.c, append_elf_note)
	NT_QEMUCPU    = 0     // name "QEMU" (QEMU target/i386/arch_dump.c, cpu_write_qemu_note)
)

// Note owner names.
const (
	NameCore       = "CORE"
	NameLinux      = "LINUX"
	NameQEMU       = "QEMU"
	NameVMCOREINFO = "VMCOREINFO"
)

// Note is one ELF note. Desc aliases the slice given to Parse.
type Note struct {
	Name string // owner name without its NUL terminator
	Type uint32
	Desc []byte
}

// noteHeaderSize is sizeof(Elf64_Nhdr) == sizeof(Elf32_Nhdr): namesz, descsz, type.
const noteHeaderSize = 12

// ErrMalformed is wrapped by every error Parse returns.
var ErrMalformed = errors.New("malformed ELF note")

func align4(n uint64) uint64 { return (n + 3) &^ 3 }

// Parse splits a raw note segment into notes. Name and descriptor are each
// padded to 4 bytes, as Linux writes them for ELF64 cores too (append_elf_note
// in kernel/crash_core.c, QEMU dump.c). Every size is bounded by len(data).
//
// An all-zero header ends the list: the kernel closes each CPU's crash notes
// with final_note(), an empty note, and note blobs copied from memory or
// sub-headers may be zero-padded. On error Parse returns nil and an error
// wrapping ErrMalformed.
func Parse(data []byte) ([]Note, error) {
	var out []Note
	off := uint64(0)
	n := uint64(len(data))
	for off < n {
		if n-off < noteHeaderSize {
			if allZero(data[off:]) {
				break
			}
			return nil, fmt.Errorf("%w: %d trailing bytes at offset %#x, need a %d-byte header",
				ErrMalformed, n-off, off, noteHeaderSize)
		}
		namesz := uint64(binary.LittleEndian.Uint32(data[off:]))
		descsz := uint64(binary.LittleEndian.Uint32(data[off+4:]))
		typ := binary.LittleEndian.Uint32(data[off+8:])
		if namesz == 0 && descsz == 0 && typ == 0 {
			break // final_note() / zero padding
		}
		p := off + noteHeaderSize
		if namesz > n-p {
			return nil, fmt.Errorf("%w: note at %#x: namesz %d exceeds the %d bytes left",
				ErrMalformed, off, namesz, n-p)
		}
		name := data[p : p+namesz]
		p += align4(namesz)
		if p > n {
			// The name's padding is cut off; tolerate only at the very end
			// when there is no descriptor.
			if descsz != 0 {
				return nil, fmt.Errorf("%w: note at %#x: descriptor beyond the end", ErrMalformed, off)
			}
			p = n
		}
		if descsz > n-p {
			return nil, fmt.Errorf("%w: note at %#x: descsz %d exceeds the %d bytes left",
				ErrMalformed, off, descsz, n-p)
		}
		desc := data[p : p+descsz : p+descsz]
		out = append(out, Note{Name: string(bytes.TrimRight(name, "\x00")), Type: typ, Desc: desc})
		next := p + align4(descsz)
		if next > n {
			next = n // the last descriptor's padding may be cut off
		}
		off = next
	}
	return out, nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// Filter returns the notes with the given name and type, in order.
func Filter(ns []Note, name string, typ uint32) []Note {
	var out []Note
	for _, n := range ns {
		if n.Name == name && n.Type == typ {
			out = append(out, n)
		}
	}
	return out
}

// FindVMCOREINFO returns the descriptor of the first "VMCOREINFO" note (type
// 0), the KEY=VALUE text written by crash_save_vmcoreinfo() in
// kernel/crash_core.c, with trailing NUL padding removed; nil if there is none.
func FindVMCOREINFO(ns []Note) []byte {
	for _, n := range ns {
		if n.Name == NameVMCOREINFO && n.Type == NT_VMCOREINFO {
			return bytes.TrimRight(n.Desc, "\x00")
		}
	}
	return nil
}

// Timeval is struct __kernel_old_timeval on x86_64.
type Timeval struct {
	Sec, Usec int64
}

// Regs is x86_64 struct user_regs_struct (arch/x86/include/asm/user_64.h),
// the elf_gregset_t inside struct elf_prstatus, in its field order.
type Regs struct {
	R15, R14, R13, R12, RBP, RBX, R11, R10 uint64
	R9, R8, RAX, RCX, RDX, RSI, RDI        uint64
	OrigRAX                                uint64
	RIP, CS, EFLAGS, RSP, SS               uint64
	FSBase, GSBase                         uint64
	DS, ES, FS, GS                         uint64
}

// NumRegs is ELF_NGREG on x86_64: the number of uint64 in elf_gregset_t.
const NumRegs = 27

// IP is the instruction pointer (RIP).
func (r *Regs) IP() uint64 { return r.RIP }

// SP is the stack pointer (RSP).
func (r *Regs) SP() uint64 { return r.RSP }

// Array returns the registers in user_regs_struct order.
func (r *Regs) Array() [NumRegs]uint64 {
	return [NumRegs]uint64{
		r.R15, r.R14, r.R13, r.R12, r.RBP, r.RBX, r.R11, r.R10,
		r.R9, r.R8, r.RAX, r.RCX, r.RDX, r.RSI, r.RDI, r.OrigRAX,
		r.RIP, r.CS, r.EFLAGS, r.RSP, r.SS, r.FSBase, r.GSBase,
		r.DS, r.ES, r.FS, r.GS,
	}
}

func regsFromArray(a *[NumRegs]uint64) Regs {
	return Regs{
		R15: a[0], R14: a[1], R13: a[2], R12: a[3], RBP: a[4], RBX: a[5], R11: a[6], R10: a[7],
		R9: a[8], R8: a[9], RAX: a[10], RCX: a[11], RDX: a[12], RSI: a[13], RDI: a[14], OrigRAX: a[15],
		RIP: a[16], CS: a[17], EFLAGS: a[18], RSP: a[19], SS: a[20], FSBase: a[21], GSBase: a[22],
		DS: a[23], ES: a[24], FS: a[25], GS: a[26],
	}
}

// PRStatusCommon is struct elf_prstatus_common (include/linux/elfcore.h):
// the part of struct elf_prstatus before pr_reg, the same on every LP64
// architecture.
type PRStatusCommon struct {
	Signo, Code, Errno int32 // struct elf_siginfo pr_info
	Cursig             int16
	Sigpend, Sighold   uint64
	Pid, PPid, Pgrp    int32
	Sid                int32
	Utime, Stime       Timeval
	Cutime, Cstime     Timeval
}

// PRStatusRegsOffset is offsetof(struct elf_prstatus, pr_reg) on LP64
// architectures: after the common part and its 4 timevals.
const PRStatusRegsOffset = 112

// PRStatusRegs decodes an LP64 NT_PRSTATUS descriptor whose elf_gregset_t
// holds nregs 8-byte registers (ELF_NGREG: 27 on x86_64, 34 on arm64 for
// x0..x30, sp, pc, pstate), in the order of the architecture's
// user_regs_struct. A shorter descriptor is an error.
func PRStatusRegs(desc []byte, nregs int) (PRStatusCommon, []uint64, error) {
	if nregs <= 0 || nregs > 256 {
		return PRStatusCommon{}, nil, fmt.Errorf("notes: %d registers in elf_gregset_t", nregs)
	}
	if len(desc) < PRStatusRegsOffset+8*nregs {
		return PRStatusCommon{}, nil, fmt.Errorf("notes: NT_PRSTATUS descriptor is %d bytes, need %d for %d registers",
			len(desc), PRStatusRegsOffset+8*nregs, nregs)
	}
	le := binary.LittleEndian
	c := PRStatusCommon{
		Signo:   int32(le.Uint32(desc[0:])),
		Code:    int32(le.Uint32(desc[4:])),
		Errno:   int32(le.Uint32(desc[8:])),
		Cursig:  int16(le.Uint16(desc[12:])),
		Sigpend: le.Uint64(desc[16:]),
		Sighold: le.Uint64(desc[24:]),
		Pid:     int32(le.Uint32(desc[32:])),
		PPid:    int32(le.Uint32(desc[36:])),
		Pgrp:    int32(le.Uint32(desc[40:])),
		Sid:     int32(le.Uint32(desc[44:])),
	}
	tv := func(o int) Timeval { return Timeval{int64(le.Uint64(desc[o:])), int64(le.Uint64(desc[o+8:]))} }
	c.Utime, c.Stime, c.Cutime, c.Cstime = tv(48), tv(64), tv(80), tv(96)
	regs := make([]uint64, nregs)
	for i := range regs {
		regs[i] = le.Uint64(desc[PRStatusRegsOffset+8*i:])
	}
	return c, regs, nil
}

// ElfPRStatus is x86_64 struct elf_prstatus (include/linux/elfcore.h:
// elf_prstatus_common + pr_reg + pr_fpvalid). The kernel fills it in
// crash_save_cpu() (kernel/kexec_core.c): Pid is the task's pid and Regs the
// registers saved on panic or NMI shootdown. QEMU (x86_64_write_elf64_note in
// target/i386/arch_dump.c) fills only Pid — with its vCPU index + 1 — and Regs.
type ElfPRStatus struct {
	PRStatusCommon
	Regs    Regs
	FPValid int32
}

// Layout of x86_64 struct elf_prstatus.
const (
	prstatusMinSize = PRStatusRegsOffset + NumRegs*8     // through pr_reg
	PRStatusSize    = PRStatusRegsOffset + NumRegs*8 + 8 // 336: pr_fpvalid + padding
)

// PRStatus decodes an NT_PRSTATUS descriptor of an x86_64 core. A descriptor
// shorter than the register set (for example the 144-byte i386 prstatus QEMU
// writes for a guest not in long mode) is an error.
func PRStatus(desc []byte) (*ElfPRStatus, error) {
	if len(desc) < prstatusMinSize {
		return nil, fmt.Errorf("notes: NT_PRSTATUS descriptor is %d bytes, x86_64 elf_prstatus needs %d",
			len(desc), PRStatusSize)
	}
	c, regs, err := PRStatusRegs(desc, NumRegs)
	if err != nil {
		return nil, err
	}
	var a [NumRegs]uint64
	copy(a[:], regs)
	p := &ElfPRStatus{PRStatusCommon: c, Regs: regsFromArray(&a)}
	if len(desc) >= prstatusMinSize+4 {
		p.FPValid = int32(binary.LittleEndian.Uint32(desc[prstatusMinSize:]))
	}
	return p, nil
}
