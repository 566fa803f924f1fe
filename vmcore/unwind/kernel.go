package unwind

import (
	"errors"
	"fmt"
	"strings"

	"github.com/cilium/ebpf/btf"

	"github.com/panicscope/panicscope/vmcore/arch"
	"github.com/panicscope/panicscope/vmcore/arm64"
	"github.com/panicscope/panicscope/vmcore/finding"
	"github.com/panicscope/panicscope/vmcore/kernel"
	"github.com/panicscope/panicscope/vmcore/vmem"
	"github.com/panicscope/panicscope/vmcore/x86"
)

// Kernel is an unwinder bound to a dumped kernel: it knows the tasks, their
// stacks and each CPU's own stacks. What differs between architectures is
// behind Machine.
type Kernel struct {
	// Unwinder holds the walk settings (MaxDepth, Interleave, ThreadSize)
	// and, on x86_64, the ORC tables.
	Unwinder
	K    *kernel.Kernel
	Arch arch.Arch
	// Problems lists what could not be set up (module ORC tables, ...);
	// walks still work with what there is.
	Problems finding.List

	m Machine
}

// Machine is one architecture's side of a kernel stack walk: where its
// stacks are, which task a CPU runs, and how a walk goes from saved
// registers. x86_64 walks with ORC (orcMachine); arm64 with frame records
// (frameRecordMachine, arm64.go): x29/x30 from the saved pc/sp/x29, return
// addresses stripped of PAC bits (arch.Translator.CodeAddress), exception
// frames (struct pt_regs, arch.Arch.DecodePtRegs) crossed at the entry
// vectors, and IRQ, overflow and SDEI stacks from CPUStacks.
type Machine interface {
	// CPUStacks lists cpu's own stacks besides its task's (IRQ,
	// exception, overflow, SDEI), and what could not be read.
	CPUStacks(cpu int) (Stacks, []string)
	// CurrentTask is the address of the task running on cpu.
	CurrentTask(cpu int) (uint64, error)
	// WalkCPU walks from a CPU's saved registers; handler names the
	// exception stack whose still-running handler leads the trace ("" if
	// none).
	WalkCPU(regs arch.Regs, stacks Stacks) (tr *Trace, handler string)
	// WalkSaved walks a task that is not running from its saved context.
	WalkSaved(t Task, stacks Stacks) *Trace
}

// Sizes from arch/x86/include/asm/page_64_types.h: THREAD_SIZE and
// IRQ_STACK_SIZE are PAGE_SIZE << (2 + KASAN_STACK_ORDER).
const (
	defaultThreadSize = 16 << 10
	maxTasks          = 1 << 20
)

// NewKernel binds the unwinder of architecture a to k. On x86_64 it loads
// the ORC tables (a missing table is a Problem, not an error: frame
// pointers and scanning still work); release is the kernel release
// ("6.1.0-56-amd64"), used only when BTF does not describe struct
// orc_entry. An architecture without an unwinder is an
// *arch.UnsupportedError.
func NewKernel(a arch.Arch, k *kernel.Kernel, syms Symbolizer, release string) (*Kernel, error) {
	if k == nil || k.Mem == nil || syms == nil || a == nil {
		return nil, errors.New("unwind: need the architecture, kernel memory and symbols")
	}
	newMachine, ok := machines[a.Name()]
	if !ok {
		return nil, &arch.UnsupportedError{Machine: a.Name(), Why: "no stack unwinder for this architecture yet"}
	}
	u := &Kernel{K: k, Arch: a, Unwinder: Unwinder{Mem: k.Mem, Syms: syms}}
	u.m = newMachine(u, release)
	return u, nil
}

// machines builds each architecture's Machine, by arch.Arch.Name().
var machines = map[string]func(u *Kernel, release string) Machine{
	x86.Arch.Name():   newORCMachine,
	arm64.Arch.Name(): newFrameRecordMachine,
}

// newORCMachine loads the ORC tables (a missing table is a Problem, not an
// error: frame pointers and scanning still work) and the x86_64 stack
// sizes.
func newORCMachine(u *Kernel, release string) Machine {
	m := &orcMachine{Kernel: u}
	tab, problems, err := LoadTable(u.K, release)
	stacks := finding.About(finding.AreaCPU)
	if err != nil {
		u.Problems.Add(finding.New(finding.NoSource, stacks, fmt.Errorf("stacks: %w", err)))
	} else {
		u.ORC = tab
	}
	for _, p := range problems {
		u.Problems.Addf(finding.NoSource, stacks, "stacks: %s", p)
	}
	u.ThreadSize, m.irqSize = defaultThreadSize, defaultThreadSize
	// CONFIG_KASAN doubles the stacks (KASAN_STACK_ORDER 1).
	if _, err := u.K.Symbol("kasan_init"); err == nil {
		u.ThreadSize, m.irqSize = 2*defaultThreadSize, 2*defaultThreadSize
	}
	for _, n := range []string{"ret_from_fork", "ret_from_fork_asm"} {
		if a, err := u.K.Symbol(n); err == nil {
			m.retFromFork = append(m.retFromFork, a)
		}
	}
	return m
}

// Task is a task_struct as far as unwinding needs it.
type Task struct {
	Addr  uint64
	PID   int
	Comm  string
	Stack uint64 // task_struct.stack: the bottom of its THREAD_SIZE stack
	// SavedSP is the stack pointer the task was switched out with:
	// task_struct.thread.sp on x86_64 (where __switch_to_asm() left its
	// struct inactive_task_frame), thread.cpu_context.sp on arm64
	// (cpu_switch_to()).
	SavedSP uint64
}

// ReadTask reads the task_struct at addr.
func (u *Kernel) ReadTask(addr uint64) (Task, error) {
	t := Task{Addr: addr, PID: -1}
	o, err := u.K.Object(addr, "struct task_struct")
	if err != nil {
		return t, err
	}
	if v, err := memberUint(o, "pid"); err == nil {
		t.PID = int(int32(v))
	} else {
		return t, fmt.Errorf("task %#x: %w", addr, err)
	}
	if c, err := o.Member("comm"); err == nil {
		t.Comm, _ = c.CString(16)
	}
	if t.Stack, err = memberPointer(o, "stack"); err != nil {
		return t, fmt.Errorf("task %#x: %w", addr, err)
	}
	for _, m := range []string{"thread.sp", "thread.cpu_context.sp"} {
		if v, err := memberUint(o, m); err == nil {
			t.SavedSP = v
			break
		}
	}
	return t, nil
}

// CurrentTask is the address of the task running on cpu.
func (u *Kernel) CurrentTask(cpu int) (uint64, error) { return u.m.CurrentTask(cpu) }

// CPUStacks lists cpu's own stacks (IRQ, exception, ...).
func (u *Kernel) CPUStacks(cpu int) (Stacks, []string) { return u.m.CPUStacks(cpu) }

// orcMachine is x86_64: ORC tables, IRQ and IST stacks.
type orcMachine struct {
	*Kernel
	retFromFork []uint64
	irqSize     uint64
}

var _ Machine = (*orcMachine)(nil)

// CurrentTask is the task running on cpu: per-CPU current_task before 6.2,
// pcpu_hot.current_task after (arch/x86/include/asm/current.h).
func (u *orcMachine) CurrentTask(cpu int) (uint64, error) {
	addr, err := u.perCPUField(cpu, "current_task", "current_task")
	if err != nil {
		return 0, err
	}
	return vmem.ReadU64(u.Mem, addr)
}

// perCPUField is the address of a per-CPU variable name on cpu, or of the
// member of struct pcpu_hot (6.2 .. 6.14) that replaced it.
func (u *Kernel) perCPUField(cpu int, name, hotMember string) (uint64, error) {
	a, err := u.K.Symbol(name)
	if err != nil {
		hot, herr := u.K.Symbol("pcpu_hot")
		if herr != nil {
			return 0, err
		}
		off, oerr := u.K.OffsetOf("struct pcpu_hot", hotMember)
		if oerr != nil {
			return 0, oerr
		}
		a = hot + off
	}
	return u.K.PerCPU(a, cpu)
}

// TaskStack is the task's THREAD_SIZE stack.
func (u *Kernel) TaskStack(t Task) (Stack, bool) {
	if t.Stack == 0 || t.Stack+u.ThreadSize < t.Stack {
		return Stack{}, false
	}
	return Stack{Kind: StackTask, Begin: t.Stack, End: t.Stack + u.ThreadSize}, true
}

// CPUStacks lists cpu's IRQ stack (in_irq_stack()) and exception stacks
// (in_exception_stack(), arch/x86/kernel/dumpstack_64.c).
func (u *orcMachine) CPUStacks(cpu int) (Stacks, []string) {
	var out Stacks
	var problems []string
	// hardirq_stack_ptr points at the top-most word since 5.12 ("Store
	// actual TOS to avoid adjustment in the hotpath"), at the end before:
	// the page-aligned end covers both. The word below the end holds the
	// interrupted stack pointer (call_on_stack()).
	if a, err := u.perCPUField(cpu, "hardirq_stack_ptr", "hardirq_stack_ptr"); err != nil {
		problems = append(problems, fmt.Sprintf("cpu %d IRQ stack: %v", cpu, err))
	} else if p, err := vmem.ReadU64(u.Mem, a); err != nil {
		problems = append(problems, fmt.Sprintf("cpu %d IRQ stack: %v", cpu, err))
	} else if p != 0 {
		end := (p + pageSize - 1) &^ (pageSize - 1)
		if end > u.irqSize {
			out = append(out, Stack{Kind: StackIRQ, Begin: end - u.irqSize, End: end, Link: end - 8})
		}
	}
	es, err := u.exceptionStacks(cpu)
	if err != nil {
		problems = append(problems, fmt.Sprintf("cpu %d exception stacks: %v", cpu, err))
	}
	return append(out, es...), problems
}

// exceptionStacks reads the per-CPU cea_exception_stacks pointer and lays
// out struct cea_exception_stacks (arch/x86/include/asm/cpu_entry_area.h):
// each <NAME>_stack member is one IST stack; guard pages are left out. The
// interrupted context's pt_regs sit at the top of each stack.
func (u *orcMachine) exceptionStacks(cpu int) (Stacks, error) {
	a, err := u.K.Symbol("cea_exception_stacks")
	if err != nil {
		return nil, err
	}
	pa, err := u.K.PerCPU(a, cpu)
	if err != nil {
		return nil, err
	}
	base, err := vmem.ReadU64(u.Mem, pa)
	if err != nil {
		return nil, err
	}
	if base == 0 {
		return nil, errors.New("cea_exception_stacks not set up")
	}
	t, err := u.K.Type("struct cea_exception_stacks")
	if err != nil {
		return nil, err
	}
	st, ok := t.(*btf.Struct)
	if !ok {
		return nil, fmt.Errorf("struct cea_exception_stacks is a %T", t)
	}
	var out Stacks
	for _, m := range st.Members {
		name, ok := strings.CutSuffix(m.Name, "_stack")
		if !ok || m.Offset%8 != 0 {
			continue
		}
		size, err := btf.Sizeof(m.Type)
		if err != nil || size <= 0 || size > maxStackSize {
			continue
		}
		begin := base + uint64(m.Offset/8)
		kind := name
		if name != "NMI" {
			kind = "#" + name
		}
		if name == "MCE" {
			kind = "#MC"
		}
		end := begin + uint64(size)
		out = append(out, Stack{Kind: kind, Begin: begin, End: end, Link: end - PtRegsSize, LinkRegs: true})
	}
	return out, nil
}

// finder lists one task's stack and one CPU's stacks.
func (u *Kernel) finder(task *Task, cpu int) (Stacks, []string) {
	var l Stacks
	var problems []string
	if task != nil {
		if s, ok := u.TaskStack(*task); ok {
			l = append(l, s)
		}
	}
	if cpu >= 0 {
		cs, p := u.CPUStacks(cpu)
		l = append(l, cs...)
		problems = p
	}
	return l, problems
}

// CPUTrace is a walk of one CPU's active stack.
type CPUTrace struct {
	CPU  int
	Task Task // the CPU's current task (PID -1 when unreadable)
	*Trace
	// Handler names the exception stack ("NMI") when the saved registers
	// are the context an exception interrupted and the handler's frames,
	// rebuilt from that stack (MethodHandler, unreliable), lead the trace.
	Handler  string
	Problems []string
}

// UnwindCPU walks cpu's stack from its saved registers.
func (u *Kernel) UnwindCPU(cpu int, regs arch.Regs) *CPUTrace {
	ct := &CPUTrace{CPU: cpu, Task: Task{PID: -1}}
	var task *Task
	if addr, err := u.CurrentTask(cpu); err != nil {
		ct.Problems = append(ct.Problems, fmt.Sprintf("current task: %v", err))
	} else if t, err := u.ReadTask(addr); err != nil {
		ct.Problems = append(ct.Problems, fmt.Sprintf("current task: %v", err))
		ct.Task.Addr = addr
	} else {
		ct.Task, task = t, &t
	}
	f, p := u.finder(task, cpu)
	ct.Problems = append(ct.Problems, p...)
	ct.Trace, ct.Handler = u.m.WalkCPU(regs, f)
	return ct
}

// WalkCPU walks with ORC from a CPU's saved registers. Registers saved by
// an exception handler that is still running (the crash NMI on kdump
// dumps) are the interrupted context: the handler's frames, rebuilt from
// its stack, go above it.
func (u *orcMachine) WalkCPU(regs arch.Regs, f Stacks) (*Trace, string) {
	r := x86.PtRegsFromArch(regs)
	tr := u.Walk(Start{Regs: r, Full: true, Signal: true, Method: MethodRegs}, f)
	h := u.HandlerFrames(r, f)
	if len(h) == 0 || len(tr.Frames) == 0 {
		return tr, ""
	}
	tr.Frames[0].Regs = neutral(&r)
	tr.Frames = append(h, tr.Frames...)
	return tr, h[len(h)-1].Stack
}

// UnwindTask walks a task that is not running from its saved context.
func (u *Kernel) UnwindTask(t Task) *Trace {
	f, _ := u.finder(&t, -1)
	return u.m.WalkSaved(t, f)
}

// WalkSaved is __unwind_start() for task != current: the
// inactive_task_frame at thread.sp.
func (u *orcMachine) WalkSaved(t Task, f Stacks) *Trace {
	if t.SavedSP == 0 {
		return &Trace{End: EndNoStack, Err: "thread.sp is 0"}
	}
	bpOff, err1 := u.K.OffsetOf("struct inactive_task_frame", "bp")
	retOff, err2 := u.K.OffsetOf("struct inactive_task_frame", "ret_addr")
	ty, err3 := u.K.Type("struct inactive_task_frame")
	if err := errors.Join(err1, err2, err3); err != nil {
		return &Trace{End: EndError, Err: fmt.Sprintf("struct inactive_task_frame: %v", err)}
	}
	size, err := btf.Sizeof(ty)
	if err != nil || size <= 0 || size > 256 {
		return &Trace{End: EndError, Err: "struct inactive_task_frame has no usable size"}
	}
	bp, err1 := vmem.ReadU64(u.Mem, t.SavedSP+bpOff)
	ip, err2 := vmem.ReadU64(u.Mem, t.SavedSP+retOff)
	if err := errors.Join(err1, err2); err != nil {
		return &Trace{End: EndError, Err: fmt.Sprintf("inactive_task_frame at %#x: %v", t.SavedSP, err)}
	}
	signal := false
	for _, a := range u.retFromFork {
		signal = signal || ip == a
	}
	return u.Walk(Start{Regs: Regs{IP: ip, SP: t.SavedSP + uint64(size), BP: bp}, Signal: signal, Method: MethodSaved}, f)
}

// Tasks walks init_task.tasks and each process's threads (thread_group
// before 6.7, signal->thread_head / thread_node after), at most max tasks
// (0: 1<<20). init_task itself (PID 0) comes first.
func (u *Kernel) Tasks(max int) ([]Task, error) {
	if max <= 0 || max > maxTasks {
		max = maxTasks
	}
	init, err := u.K.Symbol("init_task")
	if err != nil {
		return nil, err
	}
	tasksOff, err := u.K.OffsetOf("struct task_struct", "tasks")
	if err != nil {
		return nil, err
	}
	var out []Task
	seen := map[uint64]bool{}
	add := func(addr uint64) error {
		if seen[addr] {
			return nil
		}
		if len(out) >= max {
			return kernel.ErrStop
		}
		seen[addr] = true
		t, err := u.ReadTask(addr)
		if err != nil {
			return nil // skip an unreadable task, keep walking
		}
		out = append(out, t)
		return nil
	}
	var errs []error
	leaders := []uint64{init}
	_ = add(init)
	err = u.K.ListForEach(init+tasksOff, max, func(node uint64) error {
		leaders = append(leaders, node-tasksOff)
		return add(node - tasksOff)
	})
	if err != nil {
		errs = append(errs, fmt.Errorf("init_task.tasks: %w", err))
	}
	for _, l := range leaders {
		if len(out) >= max {
			break
		}
		if err := u.threads(l, max, add); err != nil {
			errs = append(errs, err)
		}
	}
	return out, errors.Join(errs...)
}

func (u *Kernel) threads(leader uint64, max int, add func(uint64) error) error {
	if off, err := u.K.OffsetOf("struct task_struct", "thread_group"); err == nil {
		return u.K.ListForEach(leader+off, max, func(node uint64) error { return add(node - off) })
	}
	o, err := u.K.Object(leader, "struct task_struct")
	if err != nil {
		return err
	}
	head, err := o.Member("signal->thread_head")
	if err != nil {
		return err
	}
	off, err := u.K.OffsetOf("struct task_struct", "thread_node")
	if err != nil {
		return err
	}
	return u.K.ListForEach(head.Addr, max, func(node uint64) error { return add(node - off) })
}
