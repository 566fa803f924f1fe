package unwind

import (
	"encoding/binary"
	"strings"
	"testing"

	"github.com/panicscope/panicscope/vmcore/arch"
	"github.com/panicscope/panicscope/vmcore/arm64"
	"github.com/panicscope/panicscope/vmcore/kernel/symbols"
	"github.com/panicscope/panicscope/vmcore/vmem"
)

// A synthetic arm64 kernel: functions a0..a9 in text, the exception
// vectors el1h_64_irq and el0t_64_sync in the entry text, a task stack and
// an IRQ stack. struct pt_regs is laid out as in 6.12 (336 bytes, the
// stackframe record at 304).
const (
	a64Text       = 0xffffc728ecf00000
	a64Entry      = 0xffffc728ece10000
	a64Task       = 0xffff80008069c000
	a64IRQ        = 0xffff800080000000
	a64StackSize  = 16 << 10
	a64PtRegs     = 336
	a64Stackframe = 304
)

func afn(i int) uint64 { return a64Text + uint64(i)*0x100 }

// pac signs a kernel address the way the fixtures' saved LRs look: the
// PAC field (bits 63..48 but 55) holds a signature.
func pac(a uint64) uint64 { return a&(1<<48-1) | 0x3bd4<<48 }

type a64Synth struct {
	mem        *vmem.Fake
	task, irq  []byte
	text       []byte
	syms       []symbols.Symbol
	taskFinal  uint64
	taskPtRegs uint64
}

func newA64Synth() *a64Synth {
	s := &a64Synth{mem: &vmem.Fake{}, task: make([]byte, a64StackSize), irq: make([]byte, a64StackSize), text: make([]byte, 0x1000)}
	for i := range 10 {
		s.syms = append(s.syms, symbols.Symbol{Name: "a" + string(rune('0'+i)), Addr: afn(i), Size: 0x100, Type: 't'})
	}
	s.syms = append(s.syms,
		symbols.Symbol{Name: "el1h_64_irq", Addr: a64Entry, Size: 0x80, Type: 't'},
		symbols.Symbol{Name: "el0t_64_sync", Addr: a64Entry + 0x100, Size: 0x198, Type: 't'},
		symbols.Symbol{Name: "__entry_text_start", Addr: a64Entry, Type: 'T'},
		symbols.Symbol{Name: "__entry_text_end", Addr: a64Entry + 0x1000, Type: 'T'})
	s.taskPtRegs = a64Task + a64StackSize - a64PtRegs
	s.taskFinal = s.taskPtRegs + a64Stackframe
	return s
}

func (s *a64Synth) put(addr, v uint64) {
	switch {
	case addr >= a64Task && addr < a64Task+a64StackSize:
		binary.LittleEndian.PutUint64(s.task[addr-a64Task:], v)
	case addr >= a64IRQ && addr < a64IRQ+a64StackSize:
		binary.LittleEndian.PutUint64(s.irq[addr-a64IRQ:], v)
	default:
		panic("synthetic address outside the stacks")
	}
}

// record writes a frame record {fp, lr} at addr.
func (s *a64Synth) record(addr, fp, lr uint64) { s.put(addr, fp); s.put(addr+8, lr) }

// ptRegs writes a struct pt_regs at addr: x29, x30, sp, pc, pstate.
func (s *a64Synth) ptRegs(addr, x29, lr, sp, pc, pstate uint64) {
	s.put(addr+29*8, x29)
	s.put(addr+30*8, lr)
	s.put(addr+31*8, sp)
	s.put(addr+32*8, pc)
	s.put(addr+33*8, pstate)
}

// bl writes "BL target" at addr in the text.
func (s *a64Synth) bl(addr, target uint64) {
	imm := uint32(int64(target-addr)/4) & (1<<26 - 1)
	binary.LittleEndian.PutUint32(s.text[addr-a64Text:], 0x94000000|imm)
}

func (s *a64Synth) machine() (*frameRecordMachine, Stacks) {
	s.mem.Map(a64Task, s.task)
	s.mem.Map(a64IRQ, s.irq)
	s.mem.Map(a64Text, s.text)
	k := &Kernel{Arch: arm64.Arch, Unwinder: Unwinder{Mem: s.mem, Syms: symbols.New("synthetic", s.syms)}}
	k.ThreadSize = a64StackSize
	m := &frameRecordMachine{Kernel: k, ptRegsSize: a64PtRegs, stackframeOff: a64Stackframe, ptRegsOK: true,
		entryStart: a64Entry, entryEnd: a64Entry + 0x1000, irqSize: a64StackSize,
		codeAddress: func(a uint64) uint64 { return arm64.StripPAC(a, arm64.DefaultPACMask) }}
	k.m = m
	return m, Stacks{{Kind: StackTask, Begin: a64Task, End: a64Task + a64StackSize}, {Kind: StackIRQ, Begin: a64IRQ, End: a64IRQ + a64StackSize}}
}

func regs(pc, sp, fp, lr, pstate uint64) arch.Regs {
	var w [arm64.NumRegs]uint64
	w[29], w[30], w[31], w[32], w[33] = fp, lr, sp, pc, pstate
	return arm64.RegsFromWords(w)
}

func funcs(tr *Trace) string {
	var l []string
	for _, f := range tr.Frames {
		n := f.Function
		if f.Regs != nil {
			n = "[" + n + "]"
		}
		if !f.Reliable {
			n = "?" + n
		}
		l = append(l, n)
	}
	return strings.Join(l, " ")
}

// TestArm64IRQAndExceptionFrame: a CPU stopped in an IPI handler on the
// IRQ stack (QEMU's CPU 0: local_cpu_stop <- ... <- call_on_irq_stack),
// back to the task stack through call_on_irq_stack's record, across
// el1h_64_irq's pt_regs to the interrupted idle loop, to the final record
// of a kernel thread. Return addresses carry PAC bits.
func TestArm64IRQAndExceptionFrame(t *testing.T) {
	s := newA64Synth()
	irqTop := uint64(a64IRQ + 0x3f00)
	s.record(irqTop, irqTop+0x40, pac(afn(1)+0x20))
	s.record(irqTop+0x40, a64Task+0x3c00, pac(afn(2)+0x30)) // a2: call_on_irq_stack
	s.record(a64Task+0x3c00, a64Task+0x3c40, pac(afn(3)+0x40))
	s.record(a64Task+0x3c40, a64Task+0x3d00, pac(a64Entry+0x64)) // returns into el1h_64_irq
	// el1h_64_irq's pt_regs: its record is {interrupted x29, interrupted pc}.
	regsAt := uint64(a64Task+0x3d00) - a64Stackframe
	s.ptRegs(regsAt, a64Task+0x3e00, afn(4)+0x20, a64Task+0x3df0, afn(4)+0x34, 0x60000005)
	s.record(a64Task+0x3d00, a64Task+0x3e00, afn(4)+0x34)
	s.record(a64Task+0x3e00, a64Task+0x3e40, pac(afn(5)+0x10))
	s.record(a64Task+0x3e40, s.taskFinal, pac(afn(6)+0x8))
	m, st := s.machine()
	tr, _ := m.WalkCPU(regs(afn(0)+0x10, irqTop, irqTop, afn(0)+0x8, 0x5), st)
	if got, want := funcs(tr), "a0 a1 a2 a3 el1h_64_irq [a4] a5 a6"; got != want {
		t.Fatalf("frames %q, want %q\n%s", got, want, tr)
	}
	if !tr.Complete() || tr.End != EndOfStack || tr.UserRegs != nil {
		t.Errorf("end %s %q complete %v", tr.End, tr.Err, tr.Complete())
	}
	f := tr.Frames[5]
	if f.PC != afn(4)+0x34 || !f.Signal || f.Regs.SP != a64Task+0x3df0 || f.Stack != StackTask {
		t.Errorf("exception frame %+v", f)
	}
	if tr.Frames[1].PC != afn(1)+0x20 || tr.Frames[1].Stack != StackIRQ || tr.Frames[3].Stack != StackTask {
		t.Errorf("PAC not stripped or stacks wrong: %+v %+v", tr.Frames[1], tr.Frames[3])
	}
	if !strings.Contains(tr.String(), "pc : ffffc728ecf00434") {
		t.Errorf("exception registers not shown:\n%s", tr)
	}
}

// TestArm64LeafAndUser: the panicking CPU stopped in a leaf function
// (its caller only in x30, validated by the BL before it), a system call
// from user mode: the walk ends at the task's final record with the user
// registers.
func TestArm64LeafAndUser(t *testing.T) {
	s := newA64Synth()
	s.bl(afn(8)+0x20, afn(7))
	fp := uint64(a64Task + 0x3f00)
	s.record(fp, fp+0x40, pac(afn(9)+0x10))
	s.record(fp+0x40, s.taskFinal, pac(a64Entry+0x100+0x190)) // into el0t_64_sync
	s.ptRegs(s.taskPtRegs, 0xfffff1fab430, 0x003800000041e5e0, 0xfffff1fab430, 0x41e5c0, 0x80001000)
	m, st := s.machine()
	tr, _ := m.WalkCPU(regs(afn(7)+0x10, fp-0x20, fp, pac(afn(8)+0x24), 0x5), st)
	if got, want := funcs(tr), "a7 a8 a9 el0t_64_sync"; got != want {
		t.Fatalf("frames %q, want %q\n%s", got, want, tr)
	}
	if tr.Frames[1].Method != MethodLinkRegister || !tr.Complete() || tr.End != EndUser || tr.UserRegs == nil || tr.UserRegs.PC != 0x41e5c0 {
		t.Errorf("end %s %q, user %+v, frame %+v", tr.End, tr.Err, tr.UserRegs, tr.Frames[1])
	}
	// x30 whose call site is not a BL to the leaf: shown, not reliable.
	s.text = make([]byte, 0x1000)
	m, st = s.machine()
	tr, _ = m.WalkCPU(regs(afn(7)+0x10, fp-0x20, fp, pac(afn(8)+0x24), 0x5), st)
	if got := funcs(tr); got != "a7 ?a8 a9 el0t_64_sync" {
		t.Errorf("unvalidated x30: %q", got)
	}
	// x30 inside the function itself (it made a call): its record is at fp.
	tr, _ = m.WalkCPU(regs(afn(7)+0x10, fp-0x20, fp, afn(7)+0x8, 0x5), st)
	if got := funcs(tr); got != "a7 a9 el0t_64_sync" {
		t.Errorf("non-leaf: %q", got)
	}
}

// TestArm64SavedTask starts from thread.cpu_context as cpu_switch_to()
// left it.
func TestArm64SavedTask(t *testing.T) {
	s := newA64Synth()
	fp := uint64(a64Task + 0x3e00)
	s.record(fp, fp+0x40, pac(afn(2)+0x10))
	s.record(fp+0x40, s.taskFinal, pac(afn(3)+0x10))
	m, st := s.machine()
	tr := m.walk(afn(1)+0x44, fp-0x40, fp, nil, false, MethodSaved, st)
	if got := funcs(tr); got != "a1 a2 a3" || tr.End != EndOfStack {
		t.Errorf("frames %q end %s %s", got, tr.End, tr.Err)
	}
}

// TestArm64Hostile: loops, records going down, off-stack and misaligned
// pointers end the walk with an error, never a hang or a panic.
func TestArm64Hostile(t *testing.T) {
	for name, set := range map[string]func(s *a64Synth) uint64{
		"loop": func(s *a64Synth) uint64 {
			s.record(a64Task+0x3000, a64Task+0x3000, afn(1))
			return a64Task + 0x3000
		},
		"down": func(s *a64Synth) uint64 {
			s.record(a64Task+0x3000, a64Task+0x2000, afn(1))
			s.record(a64Task+0x2000, a64Task+0x3000, afn(2))
			return a64Task + 0x3000
		},
		"back to IRQ": func(s *a64Synth) uint64 {
			s.record(a64IRQ+0x100, a64Task+0x100, afn(1))
			s.record(a64Task+0x100, a64IRQ+0x200, afn(2))
			s.record(a64IRQ+0x200, 0, afn(3))
			return a64IRQ + 0x100
		},
		"off stack":  func(s *a64Synth) uint64 { s.record(a64Task+0x100, 0xffff000012345000, afn(1)); return a64Task + 0x100 },
		"misaligned": func(s *a64Synth) uint64 { s.record(a64Task+0x100, a64Task+0x203, afn(1)); return a64Task + 0x100 },
		"not text":   func(s *a64Synth) uint64 { s.record(a64Task+0x100, a64Task+0x200, 0x1234); return a64Task + 0x100 },
	} {
		s := newA64Synth()
		fp := set(s)
		m, st := s.machine()
		tr, _ := m.WalkCPU(regs(afn(0), fp, fp, 0, 0x5), st)
		if tr.End != EndError || tr.Err == "" || len(tr.Frames) > 4 {
			t.Errorf("%s: end %s %q, %d frames", name, tr.End, tr.Err, len(tr.Frames))
		}
	}
}

// FuzzArm64Walk walks task and IRQ stacks made of fuzz bytes from fuzz
// registers: the walk ends (bounded by the stack visits and MaxDepth)
// without a panic.
func FuzzArm64Walk(f *testing.F) {
	s := newA64Synth()
	s.record(a64Task+0x3e00, a64Task+0x3e40, pac(afn(5)+0x10))
	s.record(a64Task+0x3e40, s.taskFinal, pac(a64Entry+0x64))
	f.Add(s.task, s.irq[:64], uint64(afn(0)), uint64(a64Task+0x3e00), uint64(0x5))
	f.Fuzz(func(t *testing.T, task, irq []byte, pc, fp, lr uint64) {
		s := newA64Synth()
		copy(s.task, task)
		copy(s.irq, irq)
		m, st := s.machine()
		m.MaxDepth = 64
		tr, _ := m.WalkCPU(regs(pc, fp, fp, lr, 0x5), st)
		if len(tr.Frames) > 64 {
			t.Fatalf("%d frames", len(tr.Frames))
		}
		_ = tr.String()
	})
}

// TestArm64CrashStopHandler: a kdump's other CPU saved the pt_regs the
// crash-stop IPI pushed (registers equal to that pt_regs, word for word):
// the handler frames still on the IRQ stack, chained to that pt_regs'
// record through call_on_irq_stack's record on the task stack, lead the
// trace, unreliable. A pt_regs that differs in one register is stale and
// rebuilds nothing.
func TestArm64CrashStopHandler(t *testing.T) {
	build := func(x0 uint64) (*a64Synth, arch.Regs) {
		s := newA64Synth()
		sp := uint64(a64Task + 0x3e00)
		at := sp - a64PtRegs
		r := regs(afn(4)+0x34, sp, a64Task+0x3e00, afn(4)+0x20, 0x60000005)
		for i, w := range arm64.Words(r) {
			s.put(at+8*uint64(i), w)
		}
		s.put(at, x0)
		rec := at + a64Stackframe
		s.record(rec, r.FP, r.PC)
		s.record(a64Task+0x3e00, s.taskFinal, pac(afn(5)+0x10))
		s.record(a64Task+0x3c00, rec, pac(a64Entry+0x64)) // el1h_64_irq_handler's record
		s.record(a64IRQ+0x3f00, a64Task+0x3c00, pac(afn(2)+0x30))
		s.record(a64IRQ+0x3e00, a64IRQ+0x3f00, pac(afn(1)+0x10))
		s.record(a64IRQ+0x3d00, a64IRQ+0x3e00, pac(afn(0)+0x10)) // the deepest: crash_save_cpu's callee
		return s, r
	}
	s, r := build(0)
	m, st := s.machine()
	tr, handler := m.WalkCPU(r, st)
	if got, want := funcs(tr), "?a0 ?a1 ?a2 ?el1h_64_irq [a4] a5"; got != want || handler != StackIRQ {
		t.Fatalf("frames %q handler %q, want %q\n%s", got, handler, want, tr)
	}
	if tr.Frames[4].Regs == nil || tr.End != EndOfStack {
		t.Errorf("interrupted frame %+v, end %s", tr.Frames[4], tr.End)
	}
	s, r = build(0x1234) // x0 differs from the saved registers' 0
	m, st = s.machine()
	if tr, handler := m.WalkCPU(r, st); handler != "" || funcs(tr) != "a4 a5" {
		t.Errorf("stale pt_regs: %q, handler %q", funcs(tr), handler)
	}
}

// TestArm64StoppedAtVector: QEMU stopped a CPU on the first instruction of
// an exception vector (vectors+0x280, el1h_64_irq), before kernel_entry
// saved the pt_regs: x29/x30/sp are still the interrupted code's, so the
// record at fp is the interrupted function's, not a pt_regs' one. The walk
// goes on through the records (a8's caller only in x30), ends at the user
// registers, and says the interrupted pc is not in the dump.
func TestArm64StoppedAtVector(t *testing.T) {
	s := newA64Synth()
	const vectors = a64Entry + 0x800
	s.syms = append(s.syms, symbols.Symbol{Name: "vectors", Addr: vectors, Size: 0x800, Type: 'T'})
	fp := uint64(a64Task + 0x3f00)
	s.record(fp, fp+0x40, pac(afn(9)+0x10))
	s.record(fp+0x40, s.taskFinal, pac(a64Entry+0x100+0x190)) // into el0t_64_sync
	s.ptRegs(s.taskPtRegs, 0xfffff1fab430, 0x003800000041e5e0, 0xfffff1fab430, 0x41e5c0, 0x80001000)
	m, st := s.machine()
	m.vectors = vectors
	tr, _ := m.WalkCPU(regs(vectors+0x280, fp, fp, pac(afn(8)+0x24), 0x5), st)
	if got, want := funcs(tr), "vectors ?a8 a9 el0t_64_sync"; got != want {
		t.Fatalf("frames %q, want %q\n%s", got, want, tr)
	}
	if tr.End != EndUser || tr.UserRegs == nil || tr.UserRegs.PC != 0x41e5c0 || !strings.Contains(tr.Err, "ELR_EL1") {
		t.Errorf("end %s %q user %+v", tr.End, tr.Err, tr.UserRegs)
	}
}
