package unwind

// The arm64 frame-record walker: unwind_next_frame_record() of
// arch/arm64/kernel/stacktrace.c. Every function built with frame pointers
// stores {x29, x30} (its caller's frame record and its return address) and
// points x29 at them; entry code (kernel_entry in arch/arm64/kernel/
// entry.S) puts a frame record inside the struct pt_regs it saves:
// {interrupted x29, interrupted pc} for an exception taken from EL1, zeros
// (the final record) for one taken from EL0 and at the top of every task
// stack. Saved return addresses carry pointer-authentication bits, which
// arch.Arch.CodeAddress strips (ptrauth_strip_kernel_insn_pac()).

import (
	"encoding/binary"
	"fmt"

	"github.com/cilium/ebpf/btf"

	"github.com/panicscope/panicscope/vmcore/arch"
	"github.com/panicscope/panicscope/vmcore/arm64"
	"github.com/panicscope/panicscope/vmcore/finding"
	"github.com/panicscope/panicscope/vmcore/vmem"
)

// Methods of the arm64 walker.
const (
	// MethodFrameRecord: the return address of a frame record (x29/x30),
	// or, with Regs set, the interrupted context of an exception frame.
	MethodFrameRecord Method = "frame-record"
	// MethodLinkRegister: the starting function had not saved its return
	// address in a frame record yet (a leaf, or a prologue/epilogue): the
	// caller comes from the saved x30. Reliable when the instruction
	// before it is a BL to the function being left.
	MethodLinkRegister Method = "link-register"
)

// arm64 stack kinds (stack_type names in arch/arm64/kernel/stacktrace.c).
const (
	StackOverflow     = "OVERFLOW"
	StackSDEINormal   = "SDEI_NORMAL"
	StackSDEICritical = "SDEI_CRITICAL"
)

// OVERFLOW_STACK_SIZE (arch/arm64/include/asm/stacktrace.h).
const arm64OverflowStackSize = 4 << 10

// frameRecordMachine is arm64: frame records, IRQ, overflow and SDEI
// stacks.
type frameRecordMachine struct {
	*Kernel
	// ptRegsSize is sizeof(struct pt_regs) and stackframeOff
	// offsetof(struct pt_regs, stackframe), from BTF; ok false when BTF
	// lacks them (exception frames then read as plain frame records).
	ptRegsSize, stackframeOff uint64
	ptRegsOK                  bool
	// entryStart, entryEnd bound .entry.text (__entry_text_start/_end):
	// the exception vectors whose frame record lives in a pt_regs.
	entryStart, entryEnd uint64
	// vectors is the exception vector table (0 when unknown).
	vectors uint64
	irqSize uint64
	// codeAddress strips PAC bits from a saved return address.
	codeAddress func(uint64) uint64
}

var _ Machine = (*frameRecordMachine)(nil)

// newFrameRecordMachine reads what the arm64 walk needs from the kernel:
// struct pt_regs' layout, the entry text and THREAD_SIZE.
func newFrameRecordMachine(u *Kernel, _ string) Machine {
	m := &frameRecordMachine{Kernel: u, codeAddress: codeAddressOf(u)}
	if t, err := u.K.Type("struct pt_regs"); err == nil {
		size, serr := btf.Sizeof(t)
		off, oerr := u.K.OffsetOf("struct pt_regs", "stackframe")
		if serr == nil && oerr == nil && size >= int(u.Arch.PtRegsSize()) && size <= 1024 && off+16 <= uint64(size) {
			m.ptRegsSize, m.stackframeOff, m.ptRegsOK = uint64(size), off, true
		}
	}
	if !m.ptRegsOK {
		u.Problems.Addf(finding.NoSource, finding.About(finding.AreaCPU), "stacks: struct pt_regs or its stackframe member is not in BTF: exception frames are read as plain frame records")
	}
	s, err1 := u.K.Symbol("__entry_text_start")
	e, err2 := u.K.Symbol("__entry_text_end")
	if err1 == nil && err2 == nil && s < e {
		m.entryStart, m.entryEnd = s, e
	} else {
		u.Problems.Addf(finding.NoSource, finding.About(finding.AreaCPU), "stacks: no __entry_text_start/__entry_text_end: exception vectors are not recognised")
	}
	if u.K != nil {
		if v, err := u.K.Symbol("vectors"); err == nil {
			m.vectors = v
		}
	}
	// THREAD_SIZE: INIT_TASK_DATA() (include/asm-generic/vmlinux.lds.h)
	// makes init_stack THREAD_SIZE long, up to __end_init_stack. Else
	// MIN_THREAD_SHIFT (14, +1 with KASAN; arch/arm64/include/asm/memory.h).
	u.ThreadSize = defaultThreadSize
	if _, err := u.K.Symbol("kasan_init"); err == nil {
		u.ThreadSize = 2 * defaultThreadSize
	}
	if b, err := u.K.Symbol("init_stack"); err == nil {
		if e, err := u.K.Symbol("__end_init_stack"); err == nil && e > b {
			if n := e - b; n&(n-1) == 0 && n >= 4<<10 && n <= maxStackSize {
				u.ThreadSize = n
			}
		}
	}
	m.irqSize = u.ThreadSize // IRQ_STACK_SIZE is THREAD_SIZE
	return m
}

// CurrentTask is the task running on cpu: the per-CPU __entry_task that
// entry_task_switch() sets on every context switch (arch/arm64/kernel/
// process.c), else the runqueue's curr.
func (m *frameRecordMachine) CurrentTask(cpu int) (uint64, error) {
	if a, err := m.K.Symbol("__entry_task"); err == nil {
		pa, err := m.K.PerCPU(a, cpu)
		if err != nil {
			return 0, err
		}
		return vmem.ReadU64(m.Mem, pa)
	}
	rq, err := m.K.Symbol("runqueues")
	if err != nil {
		return 0, fmt.Errorf("neither __entry_task nor runqueues: %w", err)
	}
	off, err := m.K.OffsetOf("struct rq", "curr")
	if err != nil {
		return 0, err
	}
	pa, err := m.K.PerCPU(rq+off, cpu)
	if err != nil {
		return 0, err
	}
	return vmem.ReadU64(m.Mem, pa)
}

// CPUStacks lists cpu's IRQ stack (irq_stack_ptr), overflow stack
// (overflow_stack) and SDEI stacks (sdei_stack_{normal,critical}_ptr,
// present only with CONFIG_ARM_SDE_INTERFACE): stackinfo_get_*() in
// arch/arm64/kernel/stacktrace.c.
func (m *frameRecordMachine) CPUStacks(cpu int) (Stacks, []string) {
	var out Stacks
	var problems []string
	ptr := func(name string) (uint64, error) {
		a, err := m.K.Symbol(name)
		if err != nil {
			return 0, err
		}
		pa, err := m.K.PerCPU(a, cpu)
		if err != nil {
			return 0, err
		}
		return vmem.ReadU64(m.Mem, pa)
	}
	if p, err := ptr("irq_stack_ptr"); err != nil {
		problems = append(problems, fmt.Sprintf("cpu %d IRQ stack: %v", cpu, err))
	} else if p != 0 && p+m.irqSize > p {
		out = append(out, Stack{Kind: StackIRQ, Begin: p, End: p + m.irqSize})
	}
	if a, err := m.K.Symbol("overflow_stack"); err == nil {
		if pa, err := m.K.PerCPU(a, cpu); err == nil {
			out = append(out, Stack{Kind: StackOverflow, Begin: pa, End: pa + arm64OverflowStackSize})
		} else {
			problems = append(problems, fmt.Sprintf("cpu %d overflow stack: %v", cpu, err))
		}
	}
	for _, s := range []struct{ sym, kind string }{
		{"sdei_stack_normal_ptr", StackSDEINormal}, {"sdei_stack_critical_ptr", StackSDEICritical},
	} {
		if p, err := ptr(s.sym); err == nil && p != 0 && p+m.irqSize > p {
			out = append(out, Stack{Kind: s.kind, Begin: p, End: p + m.irqSize})
		}
	}
	return out, problems
}

// WalkCPU walks from a CPU's saved registers (NT_PRSTATUS: the panicking
// CPU's crash_setup_regs(), the interrupted context on the others). When
// the registers are an exception's pt_regs still on the stack, the
// handler that is still running above them (a kdump's crash-stop IPI) is
// rebuilt from its stack and leads the trace.
func (m *frameRecordMachine) WalkCPU(regs arch.Regs, f Stacks) (*Trace, string) {
	tr := m.walk(regs.PC, regs.SP, regs.FP, &regs, true, MethodRegs, f)
	h := m.handlerFrames(regs, f)
	if len(h) == 0 || len(tr.Frames) == 0 {
		return tr, ""
	}
	r := regs
	tr.Frames[0].Regs = &r
	tr.Frames = append(h, tr.Frames...)
	return tr, h[0].Stack
}

// handlerFrames rebuilds an exception handler still running above regs.
//
// On a kdump, crash_smp_send_stop() sends IPI_CPU_CRASH_STOP; each other
// CPU's ipi_cpu_crash_stop() -> crash_save_cpu() saves get_irq_regs(), the
// pt_regs el1h_64_irq's kernel_entry pushed (arch/arm64/kernel/smp.c), then
// parks or powers off: the dump's registers are the interrupted context,
// and nothing saved where the handler is. kernel_ventry put that pt_regs
// right below the interrupted sp, with its frame record {x29, pc}; the
// handler's frames (on the IRQ stack, reached through call_on_irq_stack's
// record on the task stack) still chain to that record. The deepest frame
// record whose chain of increasing records reaches it starts the rebuilt
// frames; an older, deeper chain can pass the same test, so none is
// reliable.
func (m *frameRecordMachine) handlerFrames(regs arch.Regs, stacks Stacks) []Frame {
	if !m.ptRegsOK || regs.User || regs.SP < m.ptRegsSize {
		return nil
	}
	w := &recWalker{m: m, stacks: stacks, loaded: map[string]*stackMem{}, visited: map[string]bool{}, tr: &Trace{}}
	at := regs.SP - m.ptRegsSize
	s, ok := w.stack(at, m.ptRegsSize)
	if !ok {
		return nil
	}
	saved, ok := w.ptRegs(s, at)
	rec := at + m.stackframeOff
	fp, ok1 := s.word(rec)
	pc, ok2 := s.word(rec + 8)
	if !ok || !ok1 || !ok2 || fp != regs.FP || pc != regs.PC || !sameRegs(saved, &regs) {
		return nil
	}
	// Candidates: every record below the pt_regs on its stack, and on the
	// CPU's other stacks.
	var best []Frame
	var bestAt uint64
	for _, st := range stacks {
		sm, ok := w.stack(st.Begin, 16)
		if !ok {
			continue
		}
		hi := st.End - 16
		if st.Kind == s.Kind {
			hi = at - 16
		}
		for a := st.Begin; a <= hi && a+16 <= st.End; a += 8 {
			if best != nil && sm.Kind == bestKind(best) && a >= bestAt {
				break
			}
			if fr := m.chainTo(w, sm, a, rec); len(fr) > len(best) || (fr != nil && best == nil) {
				best, bestAt = fr, a
			}
		}
	}
	return best
}

func bestKind(f []Frame) string { return f[0].Stack }

// sameRegs: crash_save_cpu() copies the pt_regs whole
// (elf_core_copy_regs()), so every register matches; a stale pt_regs of
// an earlier interrupt at the same pc (a CPU spinning in a delay loop)
// differs in some register (the counter it polls, a loop variable).
func sameRegs(a, b *arch.Regs) bool {
	if len(a.List) != len(b.List) {
		return false
	}
	for i := range a.List {
		if a.List[i] != b.List[i] {
			return false
		}
	}
	return true
}

// chainTo follows frame records from a; it returns the frames (return
// addresses, innermost first) when the chain reaches target with every
// return address in kernel text and every step going up the stack or to
// another one.
func (m *frameRecordMachine) chainTo(w *recWalker, s *stackMem, a, target uint64) []Frame {
	var out []Frame
	cur := s
	for range maxHandlerFrames {
		next, ok1 := cur.word(a)
		lr, ok2 := cur.word(a + 8)
		if !ok1 || !ok2 || next&7 != 0 {
			return nil
		}
		pc := m.codeAddress(lr)
		if !m.isText(pc) {
			return nil
		}
		out = append(out, m.frame(pc, a+16, false, MethodHandler, false, cur.Kind))
		if next == target {
			return out
		}
		ns, ok := w.stack(next, 16)
		if !ok || (ns.Kind == cur.Kind && next <= a) {
			return nil
		}
		cur, a = ns, next
	}
	return nil
}

// WalkSaved starts from thread.cpu_context, where cpu_switch_to() saved
// fp, sp and pc (unwind_init_from_task(): thread_saved_fp/_pc).
func (m *frameRecordMachine) WalkSaved(t Task, f Stacks) *Trace {
	o, err := m.K.Object(t.Addr, "struct task_struct")
	if err != nil {
		return &Trace{End: EndError, Err: err.Error(), arch: m.Arch}
	}
	var v [3]uint64
	for i, name := range []string{"thread.cpu_context.fp", "thread.cpu_context.sp", "thread.cpu_context.pc"} {
		if v[i], err = memberUint(o, name); err != nil {
			return &Trace{End: EndError, Err: fmt.Sprintf("task %#x: %v", t.Addr, err), arch: m.Arch}
		}
	}
	fp, sp, pc := v[0], v[1], m.codeAddress(v[2])
	if sp == 0 {
		return &Trace{End: EndNoStack, Err: "thread.cpu_context.sp is 0", arch: m.Arch}
	}
	// cpu_context.pc is the return address into __switch_to().
	return m.walk(pc, sp, fp, nil, false, MethodSaved, f)
}

// recWalker is one frame-record walk.
type recWalker struct {
	m       *frameRecordMachine
	stacks  Stacks
	loaded  map[string]*stackMem
	visited map[string]bool
	cur     string
	tr      *Trace
	// unsavedPC: the walk starts at an exception vector's first
	// instructions (the vector table, before kernel_entry stored the
	// pt_regs): the frame record at fp is the interrupted function's, not
	// one inside a pt_regs.
	unsavedPC uint64
}

func (w *recWalker) fail(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if w.tr.Err == "" {
		w.tr.Err = msg
	} else {
		w.tr.Err += "; " + msg
	}
	w.tr.End = EndError
}

// stack returns the loaded stack holding [addr, addr+n).
func (w *recWalker) stack(addr, n uint64) (*stackMem, bool) {
	s, ok := w.stacks.StackOf(addr)
	if !ok || !s.Contains(addr, n) {
		return nil, false
	}
	k := stackKey(s)
	if sm, ok := w.loaded[k]; ok {
		return sm, true
	}
	if len(w.loaded) >= maxStackReads {
		return nil, false
	}
	sm := loadStack(w.m.Mem, s)
	w.loaded[k] = sm
	return sm, true
}

// enter makes the stack holding a frame record current: a walk may move
// to another stack but never back to one it left (unwind_consume_stack()).
func (w *recWalker) enter(s *stackMem) bool {
	k := stackKey(s.Stack)
	if k == w.cur {
		return true
	}
	if w.visited[k] {
		return false
	}
	if w.cur != "" {
		w.visited[w.cur] = true
	}
	w.cur = k
	return true
}

func (w *recWalker) emit(f Frame) bool {
	w.tr.Frames = append(w.tr.Frames, f)
	if len(w.tr.Frames) >= w.m.maxDepth() {
		w.tr.End = EndDepth
		return false
	}
	return true
}

func (m *frameRecordMachine) inEntryText(pc uint64) bool {
	return m.entryEnd > m.entryStart && pc >= m.entryStart && pc < m.entryEnd
}

// inVectors reports whether pc is in the exception vector table
// (vectors, SZ_2K: 16 entries of 128 bytes that branch to kernel_entry).
func (m *frameRecordMachine) inVectors(pc uint64) bool {
	return m.vectors != 0 && pc >= m.vectors && pc < m.vectors+0x800
}

// taskFinalRecord is &task_pt_regs(task)->stackframe for the task stack
// s: the final frame record every task stack ends with.
func (m *frameRecordMachine) taskFinalRecord(s Stack) (uint64, bool) {
	if !m.ptRegsOK || s.Kind != StackTask || s.End-s.Begin < m.ptRegsSize {
		return 0, false
	}
	return s.End - m.ptRegsSize + m.stackframeOff, true
}

// walk unwinds from pc with frame pointer fp; sp places the first frame.
// regs, when set, are the full starting registers (their x30 may hold a
// return address not yet in a frame record).
func (m *frameRecordMachine) walk(pc, sp, fp uint64, regs *arch.Regs, signal bool, method Method, stacks Stacks) *Trace {
	w := &recWalker{m: m, stacks: stacks, loaded: map[string]*stackMem{}, visited: map[string]bool{}, tr: &Trace{arch: m.Arch}}
	if regs != nil && regs.User {
		w.tr.UserRegs = regs
		w.tr.End = EndUser
		return w.tr
	}
	kind := StackUnknown
	if s, ok := stacks.StackOf(sp); ok {
		kind = s.Kind
		w.cur = stackKey(s)
	} else if s, ok := stacks.StackOf(fp); ok {
		kind = s.Kind
	} else {
		w.tr.End, w.tr.Err = EndNoStack, fmt.Sprintf("sp %#x and fp %#x are on no known stack", sp, fp)
		return w.tr
	}
	if m.inVectors(pc) {
		// kernel_ventry has not saved the interrupted registers yet: x29,
		// x30 and sp are still the interrupted code's, and its pc is only in
		// ELR_EL1, which the dump does not hold (arch/arm64/kernel/entry.S).
		w.unsavedPC = pc
		w.fail("stopped at the exception vector %s before kernel_entry saved the registers: the interrupted pc (ELR_EL1) is not in the dump; the frames below are read from x29/x30", "vectors")
	}
	if !w.emit(m.frame(pc, sp, signal, method, true, kind)) {
		return w.tr
	}
	if regs != nil && !w.linkRegister(pc, fp, regs) {
		return w.tr
	}
	w.records(pc, fp)
	return w.tr
}

// linkRegister adds the caller a function had not yet saved in a frame
// record: when the saved x30 is not a return address into the function
// at pc itself (which a call from it leaves) and differs from the one in
// the record at fp. Only the registers of a stopped CPU or an exception
// frame have a meaningful x30.
func (w *recWalker) linkRegister(pc, fp uint64, regs *arch.Regs) bool {
	m := w.m
	lrRaw, ok := regs.Get("lr")
	if !ok || lrRaw == 0 {
		return true
	}
	lr := m.codeAddress(lrRaw)
	if !m.isText(lr) {
		return true
	}
	fn, _, ok1 := m.Syms.ByAddr(pc)
	caller, _, ok2 := m.Syms.ByAddr(lr - 1)
	if !ok1 || !ok2 || fn.Addr == caller.Addr {
		return true // x30 points into the function itself: it made a call, its record is at fp
	}
	if s, ok := w.stack(fp, 16); ok {
		if rec, ok := s.word(fp + 8); ok && m.codeAddress(rec) == lr {
			return true // already in the record at fp
		}
	}
	reliable := m.blTo(lr, fn.Addr)
	kind := w.tr.Frames[len(w.tr.Frames)-1].Stack
	return w.emit(m.frame(lr, regs.SP, false, MethodLinkRegister, reliable, kind))
}

// blTo reports whether the instruction before ret is BL fn (A64: bits
// 31..26 100101, imm26 words from the BL).
func (m *frameRecordMachine) blTo(ret, fn uint64) bool {
	var b [4]byte
	if ret < 4 || m.Mem.ReadVirt(b[:], ret-4) != nil {
		return false
	}
	insn := binary.LittleEndian.Uint32(b[:])
	if insn>>26 != 0x25 {
		return false
	}
	imm := int64(insn&(1<<26-1)) << 38 >> 36 // sign-extend imm26, times 4
	return ret-4+uint64(imm) == fn
}

// records follows the frame records from fp; prevPC is the last frame's PC.
func (w *recWalker) records(prevPC, fp uint64) {
	m := w.m
	var prevFP uint64
	for {
		if fp == 0 {
			w.tr.End = EndOfStack
			return
		}
		if fp&7 != 0 {
			w.fail("frame record %#x is misaligned", fp)
			return
		}
		s, ok := w.stack(fp, 16)
		if !ok {
			w.fail("frame record %#x is on no known stack", fp)
			return
		}
		same := stackKey(s.Stack) == w.cur
		if !w.enter(s) {
			w.fail("frame record %#x returns to the %s stack, already left", fp, s.Kind)
			return
		}
		if same && prevFP != 0 && fp <= prevFP {
			w.fail("frame record %#x is not above the previous one %#x", fp, prevFP)
			return
		}
		// An exception vector's frame record is the one kernel_entry
		// put in the pt_regs it saved.
		var regs *arch.Regs
		if m.ptRegsOK && m.inEntryText(prevPC) && prevPC != w.unsavedPC && fp >= m.stackframeOff {
			if r, ok := w.ptRegs(s, fp-m.stackframeOff); ok {
				regs = r
			}
		}
		if final, ok := m.taskFinalRecord(s.Stack); ok && fp == final {
			// The end of a task stack: a user context (a system call or
			// an exception from EL0), or a kernel thread's start.
			// A kernel thread's (and the idle task's) pt_regs are zeroed
			// (copy_thread(), init_cpu_task): no user context.
			if r, ok := w.ptRegs(s, fp-m.stackframeOff); ok && r.User && (r.PC != 0 || r.SP != 0) {
				w.tr.UserRegs = r
				w.tr.End = EndUser
				return
			}
			w.tr.End = EndOfStack
			return
		}
		next, ok1 := s.word(fp)
		lrRaw, ok2 := s.word(fp + 8)
		if !ok1 || !ok2 {
			w.fail("frame record %#x: stack page not in the dump", fp)
			return
		}
		if next == 0 && lrRaw == 0 {
			w.tr.End = EndOfStack // a final record elsewhere (init_cpu_task on a CPU's idle stack)
			return
		}
		var f Frame
		if regs != nil {
			if regs.User {
				w.tr.UserRegs = regs
				w.tr.End = EndUser
				return
			}
			f = m.frame(regs.PC, regs.SP, true, MethodFrameRecord, true, s.Kind)
			f.Regs = regs
			f.at = fp - m.stackframeOff
		} else {
			pc := m.codeAddress(lrRaw)
			if !m.isText(pc) {
				w.fail("frame record %#x: return address %#x is not kernel text", fp, pc)
				return
			}
			f = m.frame(pc, fp+16, false, MethodFrameRecord, true, s.Kind)
			f.at = fp + 8
		}
		if !w.emit(f) {
			return
		}
		if regs != nil && !w.linkRegister(regs.PC, next, regs) {
			return
		}
		prevPC, prevFP, fp = f.PC, fp, next
	}
}

// ptRegs decodes the struct pt_regs at addr on s.
func (w *recWalker) ptRegs(s *stackMem, addr uint64) (*arch.Regs, bool) {
	buf := make([]byte, w.m.Arch.PtRegsSize())
	if !s.bytes(buf, addr) {
		return nil, false
	}
	r := w.m.Arch.DecodePtRegs(buf)
	return &r, true
}

// codeAddressOf is the dump's arch.Translator.CodeAddress (the PAC mask
// comes from its VMCOREINFO), reached through the kernel's memory (a
// *vmcore.Dump); else GENMASK(63, 48), the mask of 48-bit kernels, with a
// problem saying so.
func codeAddressOf(u *Kernel) func(uint64) uint64 {
	if d, ok := u.K.Mem.(interface{ Translator() arch.Translator }); ok {
		if tr := d.Translator(); tr != nil {
			return tr.CodeAddress
		}
	}
	u.Problems.Addf(finding.NoSource, finding.About(finding.AreaCPU), "stacks: no address translator: PAC bits stripped as for 48-bit kernel addresses")
	return func(a uint64) uint64 { return arm64.StripPAC(a, arm64.DefaultPACMask) }
}
