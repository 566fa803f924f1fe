// Package unwind walks kernel stacks in a crash dump the way the kernel's
// own unwinder does, from the tables and stacks in the dump's memory, so no
// debuginfo is needed.
//
// The architecture-neutral part is here and in kernel.go: frames, traces,
// stacks, tasks, and Kernel, which binds a walk to a dumped kernel. What
// differs between architectures is behind Machine: on x86_64 the ORC
// unwinder (unwind.go, orc.go, handler.go: arch/x86/kernel/unwind_orc.c,
// with pt_regs frames, IRQ and IST stacks); arm64's frame-record unwinder
// plugs in the same way.
//
// A walk starts from a CPU's saved registers (NT_PRSTATUS) or from a
// sleeping task's saved context, crosses from the IRQ and exception stacks
// back to the interrupted stack through the pt_regs frames entry code
// leaves, and stops at the end of the stack, at user mode, or at a bound.
// Every Frame says which method produced it and whether it is reliable.
//
// Hostile data gives an error or a shorter trace, never a Go panic: depth is
// bounded (MaxDepth), each stack is read at most once and at most 64 KiB,
// the stack pointer must grow within a stack and each stack is visited once
// (the kernel's stack_info visit mask).
package unwind

import (
	"fmt"

	"github.com/panicscope/panicscope/vmcore/arch"
	"github.com/panicscope/panicscope/vmcore/kernel/symbols"
)

// Method says how a frame was found.
type Method string

// Methods.
const (
	MethodRegs  Method = "regs"          // the starting registers (NT_PRSTATUS)
	MethodSaved Method = "saved"         // a sleeping task's saved context (x86_64 inactive_task_frame)
	MethodORC   Method = "orc"           // an ORC entry
	MethodFP    Method = "frame-pointer" // the frame-pointer guess (orc_fp_entry)
	// MethodCallSite: ORC had nothing for the IP (e.g. the registers
	// crash_setup_regs() saves in __crash_kexec(), at an instruction objtool
	// could not follow), so the stack was searched upwards for the first
	// return address whose preceding instruction is a direct call to the
	// function being left.
	MethodCallSite Method = "call-site"
	MethodScan     Method = "stack-scan" // a text address found on the stack
)

// DefaultMaxDepth bounds a walk when Unwinder.MaxDepth is 0.
const DefaultMaxDepth = 256

// Symbolizer resolves addresses; *symbols.Table implements it.
type Symbolizer interface {
	ByAddr(addr uint64) (sym symbols.Symbol, off uint64, ok bool)
}

// Frame is one frame of a trace, innermost first.
type Frame struct {
	// PC is the return address (for the first frame and frames entered
	// through pt_regs: the interrupted instruction).
	PC uint64
	// SP is the stack pointer while the frame's function ran (the address
	// just above the return address it will use).
	SP uint64
	// Function, Offset, Size and Module come from the symbol table; for a
	// return address the symbol is that of PC-1 and Offset is PC minus the
	// symbol's start, like the kernel's %pB.
	Function string
	Offset   uint64
	Size     uint64
	Module   string
	// Reliable: found by ORC (or the start registers) without an earlier
	// guess. Frame-pointer guesses, scanned addresses and every frame after
	// a guess are not reliable.
	Reliable bool
	Method   Method
	// Stack is the kind of stack SP is on ("TASK", "IRQ", "NMI", ...).
	Stack string
	// Regs, when set, is the interrupted context saved by entry code
	// (an x86_64 ORC REGS or REGS_PARTIAL frame, an arm64 exception
	// frame); PC is Regs.PC.
	Regs *arch.Regs
	// Signal: PC is not a return address (start IP or interrupted IP).
	Signal bool

	at uint64 // where the walk read PC (the return address slot or the pt_regs)
}

// String is "function+0xoff/0xsize [module]", prefixed with "? " when the
// frame is not reliable.
func (f Frame) String() string {
	s := f.Symbol()
	if !f.Reliable {
		s = "? " + s
	}
	return s
}

// Symbol is "function+0xoff/0xsize [module]" (or the hex address).
func (f Frame) Symbol() string {
	if f.Function == "" {
		return fmt.Sprintf("%#x", f.PC)
	}
	s := fmt.Sprintf("%s+%#x", f.Function, f.Offset)
	if f.Size != 0 {
		s += fmt.Sprintf("/%#x", f.Size)
	}
	if f.Module != "" {
		s += " [" + f.Module + "]"
	}
	return s
}

// Trace is one walk.
type Trace struct {
	Frames []Frame
	// UserRegs are the user-mode registers the kernel was entered with,
	// when the walk ended at a pt_regs frame from user space (a system
	// call or an exception in user mode), or the starting registers when
	// they were in user mode.
	UserRegs *arch.Regs
	// End says why the walk stopped: EndOfStack, EndUser, EndDepth,
	// EndScan or EndError.
	End string
	// Err describes what went wrong, when something did (an unreadable
	// stack page, an entry ORC could not apply, ...).
	Err string

	arch arch.Arch // renders the registers in Format
}

// Reasons a walk ends.
const (
	EndOfStack = "end of stack"    // an ORC end-of-stack entry: the walk is complete
	EndUser    = "user mode"       // the next context is user space: complete
	EndDepth   = "max depth"       // MaxDepth frames
	EndScan    = "stack scanned"   // ORC and frame pointers failed; the rest was scanned
	EndError   = "error"           // nothing more could be found
	EndNoStack = "no kernel stack" // the start SP is on no readable stack
)

// Complete reports whether the walk reached the end of the stack or user
// mode with every frame found by ORC (or a validated call site).
func (t *Trace) Complete() bool {
	if t.End != EndOfStack && t.End != EndUser {
		return false
	}
	for _, f := range t.Frames {
		// Handler frames and the scanned addresses Interleave adds are
		// extra: they do not make a complete walk incomplete.
		if !f.Reliable && f.Method != MethodHandler && f.Method != MethodScan {
			return false
		}
	}
	return true
}

// Functions lists the frames' function names (hex for unknown ones),
// innermost first; reliableOnly leaves out unreliable frames.
func (t *Trace) Functions(reliableOnly bool) []string {
	var out []string
	for _, f := range t.Frames {
		if reliableOnly && !f.Reliable {
			continue
		}
		if f.Function != "" {
			out = append(out, f.Function)
		} else {
			out = append(out, fmt.Sprintf("%#x", f.PC))
		}
	}
	return out
}
