package unwind

import (
	"github.com/panicscope/panicscope/vmcore/arch"
	"github.com/panicscope/panicscope/vmcore/x86"
)

// Regs is x86_64 struct pt_regs: the registers the ORC walker tracks.
// Outside the walker registers are arch.Regs.
type Regs = x86.PtRegs

// PtRegsSize is sizeof(struct pt_regs) on x86_64.
const PtRegsSize = x86.PtRegsSize

// iretFrameOffset is IRET_FRAME_OFFSET: offsetof(struct pt_regs, ip);
// iretFrameSize is IRET_FRAME_SIZE.
const (
	iretFrameOffset = x86.IretFrameOffset
	iretFrameSize   = x86.IretFrameSize
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

// regAt returns the register at a struct pt_regs byte offset.
func regAt(r *Regs, off int) uint64 {
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

// neutral is r as the arch-neutral registers frames carry.
func neutral(r *Regs) *arch.Regs {
	if r == nil {
		return nil
	}
	a := r.Arch()
	return &a
}
