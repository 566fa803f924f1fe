package unwind

import (
	"encoding/binary"

	"github.com/panicscope/panicscope/vmcore/vmem"
)

// Stack kinds (stack_type_name(), arch/x86/kernel/dumpstack_64.c).
const (
	StackTask    = "TASK"
	StackIRQ     = "IRQ"
	StackUnknown = "UNKNOWN"
	// Exception (IST) stacks in the CPU entry area: "#DF", "NMI", "#DB",
	// "#MC", "#VC", "#VC2".
)

// Stack is one kernel stack: [Begin, End).
type Stack struct {
	Kind       string
	Begin, End uint64
	// Link is where the word that leads to the previous stack lives, when
	// the stack has one: the saved SP at the top of the IRQ stack
	// (in_irq_stack()), or the interrupted context's pt_regs at the top of
	// an exception stack (in_exception_stack()).
	Link     uint64
	LinkRegs bool // Link is a struct pt_regs (its sp member leads on)
}

// Contains reports whether [addr, addr+n) lies in the stack.
func (s Stack) Contains(addr, n uint64) bool {
	return addr >= s.Begin && addr+n > addr && addr+n <= s.End
}

// Size bounds.
const (
	maxStackSize  = 64 << 10
	maxStackReads = 32 // distinct stacks one walk may load
	pageSize      = 4096
)

// stackMem is a stack's contents, read once; a page missing from the dump
// leaves a hole.
type stackMem struct {
	Stack
	data []byte
	have []bool // per page of data
}

func loadStack(mem vmem.Reader, s Stack) *stackMem {
	if s.End <= s.Begin || s.End-s.Begin > maxStackSize {
		s.End = s.Begin
	}
	m := &stackMem{Stack: s, data: make([]byte, s.End-s.Begin)}
	for off := uint64(0); off < uint64(len(m.data)); {
		n := min(pageSize-(s.Begin+off)%pageSize, uint64(len(m.data))-off)
		ok := mem.ReadVirt(m.data[off:off+n], s.Begin+off) == nil
		m.have = append(m.have, ok)
		off += n
	}
	return m
}

// word reads the 8 bytes at addr, which must lie in the stack.
func (m *stackMem) word(addr uint64) (uint64, bool) {
	var b [8]byte
	if !m.bytes(b[:], addr) {
		return 0, false
	}
	return binary.LittleEndian.Uint64(b[:]), true
}

// bytes fills buf from addr; false when outside the stack or in a hole.
func (m *stackMem) bytes(buf []byte, addr uint64) bool {
	n := uint64(len(buf))
	if !m.Contains(addr, n) {
		return false
	}
	off := addr - m.Begin
	// Page index i covers data from pageStart(i); recompute from the
	// first (possibly partial) page.
	first := pageSize - m.Begin%pageSize
	page := func(o uint64) int {
		if o < first {
			return 0
		}
		return int((o-first)/pageSize) + 1
	}
	for p := page(off); p <= page(off+n-1); p++ {
		if p >= len(m.have) || !m.have[p] {
			return false
		}
	}
	copy(buf, m.data[off:off+n])
	return true
}

// StackFinder names the stack an address is on, for one unwinding context
// (a task, and the CPU it runs on). ok is false for an address on no known
// stack.
type StackFinder interface {
	StackOf(addr uint64) (Stack, bool)
}

// Stacks is a fixed list of stacks: a StackFinder.
type Stacks []Stack

// StackOf implements StackFinder.
func (l Stacks) StackOf(addr uint64) (Stack, bool) {
	for _, s := range l {
		if s.Contains(addr, 1) {
			return s, true
		}
	}
	return Stack{}, false
}
