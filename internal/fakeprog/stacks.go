package fakeprog

import (
	"encoding/binary"

	"github.com/cilium/ebpf/btf"
)

// declareORCv3 describes struct orc_entry as 6.4+ does
// (arch/x86/include/asm/orc_types.h): bitfields sp_reg, bp_reg, type,
// signal after the two offsets.
func (k *Kernel) declareORCv3() {
	s16, u32 := k.types.T("short int"), k.types.T("unsigned int")
	k.types.add("struct orc_entry", &btf.Struct{Name: "orc_entry", Size: 6, Members: []btf.Member{
		{Name: "sp_offset", Type: s16, Offset: 0},
		{Name: "bp_offset", Type: s16, Offset: 16},
		{Name: "sp_reg", Type: u32, Offset: 32, BitfieldSize: 4},
		{Name: "bp_reg", Type: u32, Offset: 36, BitfieldSize: 4},
		{Name: "type", Type: u32, Offset: 40, BitfieldSize: 3},
		{Name: "signal", Type: u32, Offset: 43, BitfieldSize: 1},
	}})
}

// Sizes of the per-CPU stacks (arch/x86/include/asm/page_64_types.h,
// cpu_entry_area.h without KASAN).
const (
	irqStackSize       = 16 << 10
	exceptionStackSize = 8 << 10
	guardSize          = PageSize
)

// istStacks are the IST stacks of struct cea_exception_stacks, in order.
var istStacks = []string{"DF", "NMI", "DB", "MCE"}

// CPUStacks gives every CPU an IRQ stack (per-CPU hardirq_stack_ptr, the
// top-of-stack word since 5.12) and exception stacks (per-CPU
// cea_exception_stacks pointing at a struct cea_exception_stacks: a guard
// page and a stack per IST vector).
func (k *Kernel) CPUStacks() {
	char := k.types.T("char")
	var fields []Field
	for _, n := range istStacks {
		fields = append(fields, F(n+"_stack_guard", k.types.Array(char, guardSize)), F(n+"_stack", k.types.Array(char, exceptionStackSize)))
	}
	fields = append(fields, F("IST_top_guard", k.types.Array(char, guardSize)))
	k.types.Struct("cea_exception_stacks", fields...)
	irq := k.PerCPUVar("hardirq_stack_ptr", 8)
	cea := k.PerCPUVar("cea_exception_stacks", 8)
	for c := range k.cpus {
		stack := k.Alloc(irqStackSize, irqStackSize)
		k.PutU64(k.PerCPUAddr(irq, c), stack+irqStackSize-8)
		k.PutU64(k.PerCPUAddr(cea, c), k.Alloc(k.types.Sizeof("struct cea_exception_stacks"), PageSize))
	}
}

// ExceptionStack is [begin, end) of cpu's IST stack name ("NMI").
func (k *Kernel) ExceptionStack(cpu int, name string) (begin, end uint64) {
	base := k.U64(k.PerCPUAddr(k.Sym("cea_exception_stacks"), cpu))
	begin = base + k.types.Offset("struct cea_exception_stacks", name+"_stack")
	return begin, begin + exceptionStackSize
}

// IRQStack lays out a CPU interrupted into its IRQ stack: irqFns on the
// IRQ stack (irqFns[0] innermost; the last one switched stacks with
// call_on_irqstack(), so it gets an ORC_REG_SP_INDIRECT entry), the
// previous stack pointer in the IRQ stack's top word (call_on_stack(),
// arch/x86/include/asm/irq_stack.h), and taskFns on the task's stack
// (taskFns[0] called irqFns[len-1]; mark the outermost EndOfStack). It
// returns the registers of a CPU stopped in irqFns[0]. CPUStacks first.
func (k *Kernel) IRQStack(cpu int, task uint64, irqFns, taskFns []uint64) Regs {
	k.setORC(irqFns[len(irqFns)-1], orcIndirect)
	top := k.U64(k.PerCPUAddr(k.Sym("hardirq_stack_ptr"), cpu)) // the top word
	_, end := k.TaskStack(task)
	saved := end - 8*uint64(len(taskFns)+8)
	k.PutU64(top, saved)
	// On the IRQ stack, each return address sits right below the previous
	// frame's: the last one ends at the top word.
	slot := top - 8
	for i := len(irqFns) - 1; i >= 1; i-- {
		ret := irqFns[i] + 0x20 + uint64(i)
		k.call(ret, irqFns[i-1])
		k.PutU64(slot, ret)
		slot -= 8
	}
	sp := slot + 8
	// On the task stack: the return into taskFns[0] at saved, then its callers.
	all := append([]uint64{irqFns[len(irqFns)-1]}, taskFns...)
	for i := 1; i < len(all); i++ {
		ret := all[i] + 0x28 + uint64(i)
		k.call(ret, all[i-1])
		k.PutU64(saved+8*uint64(i-1), ret)
	}
	return Regs{IP: irqFns[0] + 0x10, SP: sp}
}

// ptRegs is struct pt_regs for regs as the fake saves them (the words
// NT_PRSTATUS also holds: BP, IP, CS, flags, SP, SS).
func ptRegs(r Regs) []byte {
	b := make([]byte, 21*8)
	put := func(i int, v uint64) { binary.LittleEndian.PutUint64(b[8*i:], v) }
	put(4, r.BP)
	put(16, r.IP)
	put(17, 0x10)
	put(18, 0x246)
	put(19, r.SP)
	put(20, 0x18)
	return b
}

// NMIStack lays out what a CPU stopped by the crash NMI has on its NMI
// stack: the pt_regs of the interrupted context (regs, what it saved in
// its NT_PRSTATUS) at the top, as asm_exc_nmi pushes it, and below it the
// return addresses of the handler's calls: handler[len-1] is the entry
// code (give it EntryORC) and each handler[i] called handler[i-1]:
// handler[0] is the last function called (its own frame holds no return
// address, so unwinders show handler[1] innermost).
func (k *Kernel) NMIStack(cpu int, regs Regs, handler ...uint64) {
	_, end := k.ExceptionStack(cpu, "NMI")
	p := end - 21*8
	k.Write(p, ptRegs(regs))
	slot := p - 8
	for i := len(handler) - 1; i >= 1; i-- {
		ret := handler[i] + 0x30 + uint64(i)
		k.call(ret, handler[i-1])
		k.PutU64(slot, ret)
		slot -= 8
	}
}

// call writes a direct call (E8 rel32) to target returning to ret.
func (k *Kernel) call(ret, target uint64) {
	c := []byte{0xe8, 0, 0, 0, 0}
	binary.LittleEndian.PutUint32(c[1:], uint32(int32(int64(target-ret))))
	k.Write(ret-5, c)
}

// --- tasks -----------------------------------------------------------------

// InitTask adds init_task (PID 0, swapper/0) as the head of the task list
// and returns it.
func (k *Kernel) InitTask() uint64 {
	const tt = "struct task_struct"
	t := k.Data("init_task", k.types.Sizeof(tt), 64)
	stack := k.Alloc(threadSize, threadSize)
	k.Set(t, tt, "stack", stack)
	k.PutString(t+k.types.Offset(tt, "comm"), "swapper/0")
	for _, l := range []string{"tasks", "thread_group"} {
		a := t + k.types.Offset(tt, l)
		k.PutU64(a, a)
		k.PutU64(a+8, a)
	}
	return t
}

// AddTask puts a thread-group leader on init_task.tasks.
func (k *Kernel) AddTask(task uint64) {
	off := k.types.Offset("struct task_struct", "tasks")
	k.ListAddTail(task+off, k.Sym("init_task")+off)
}

// AddThread puts task on leader's thread_group list.
func (k *Kernel) AddThread(leader, task uint64) {
	off := k.types.Offset("struct task_struct", "thread_group")
	k.ListAddTail(task+off, leader+off)
}

// SwitchedOut lays out a task that is not running: __switch_to_asm() left
// a struct inactive_task_frame at thread.sp whose ret_addr returns into
// fns[0], which was called by fns[1], and so on (fns[len-1] should be
// marked EndOfStack).
func (k *Kernel) SwitchedOut(task uint64, fns ...uint64) {
	const ft = "struct inactive_task_frame"
	_, end := k.TaskStack(task)
	size := k.types.Sizeof(ft)
	frame := end - size - 8*uint64(len(fns)+8)
	rets := make([]uint64, len(fns))
	for i := range fns {
		rets[i] = fns[i] + 0x40 + uint64(i)
		if i > 0 {
			k.call(rets[i], fns[i-1])
		}
	}
	k.Set(frame, ft, "ret_addr", rets[0])
	for i := 1; i < len(fns); i++ {
		k.PutU64(frame+size+8*uint64(i-1), rets[i])
	}
	k.Set(task, "struct task_struct", "thread.sp", frame)
}
