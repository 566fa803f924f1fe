package fakeprog

import (
	"encoding/binary"
	"fmt"
)

// --- lists ------------------------------------------------------------------

// ListHead adds a global, empty struct list_head (LIST_HEAD(name)).
func (k *Kernel) ListHead(name string) uint64 {
	h := k.Data(name, 16, 8)
	k.PutU64(h, h)
	k.PutU64(h+8, h)
	return h
}

// ListAddTail is list_add_tail(node, head) (include/linux/list.h).
func (k *Kernel) ListAddTail(node, head uint64) {
	prev := k.U64(head + 8)
	k.PutU64(node, head)
	k.PutU64(node+8, prev)
	k.PutU64(prev, node)
	k.PutU64(head+8, node)
}

// U64 reads back a word written earlier.
func (k *Kernel) U64(va uint64) uint64 { return binary.LittleEndian.Uint64(k.ReadBack(va, 8)) }

// Object allocates a zeroed struct of the named type in the heap.
func (k *Kernel) Object(typeName string) uint64 {
	return k.Alloc(k.types.Sizeof(typeName), 8)
}

// Set writes v (size bytes, little-endian) at member path of the object at
// addr of type typeName.
func (k *Kernel) Set(addr uint64, typeName, path string, v uint64) {
	off := k.types.Offset(typeName, path)
	size := k.types.MemberSize(typeName, path)
	if size > 8 {
		panic(fmt.Sprintf("fakeprog: %s.%s is %d bytes, not a scalar", typeName, path, size))
	}
	b := binary.LittleEndian.AppendUint64(nil, v)
	k.Write(addr+off, b[:size])
}

// --- parameters -----------------------------------------------------------

// SetParam adds a global variable of C type typ ("bool", "int",
// "unsigned long") holding v, e.g. SetParam("panic_timeout", "int", 10).
func (k *Kernel) SetParam(name, typ string, v int64) uint64 {
	size := k.types.Sizeof(typ)
	a := k.Data(name, size, size)
	b := binary.LittleEndian.AppendUint64(nil, uint64(v))
	k.Write(a, b[:size])
	return a
}

// PanicParams are the kernel/panic.c and kexec knobs; a nil field leaves
// the variable out of the kernel.
type PanicParams struct {
	CrashKexecPostNotifiers *bool
	PanicTimeout            *int
	PanicPrint              *uint64
	PanicOnOops             *int
	PanicOnWarn             *int
	CrashKernelLoaded       *bool
	PanicCPU                *int
	OopsInProgress          *int
	TaintedMask             *uint64
}

// Ptr returns &v, for PanicParams literals.
func Ptr[T any](v T) *T { return &v }

// SetPanicParams adds the variables that are set.
func (k *Kernel) SetPanicParams(p PanicParams) {
	b := func(v bool) int64 {
		if v {
			return 1
		}
		return 0
	}
	if p.CrashKexecPostNotifiers != nil {
		k.SetParam("crash_kexec_post_notifiers", "bool", b(*p.CrashKexecPostNotifiers))
	}
	if p.PanicTimeout != nil {
		k.SetParam("panic_timeout", "int", int64(*p.PanicTimeout))
	}
	if p.PanicPrint != nil {
		k.SetParam("panic_print", "unsigned long", int64(*p.PanicPrint))
	}
	if p.PanicOnOops != nil {
		k.SetParam("panic_on_oops", "int", int64(*p.PanicOnOops))
	}
	if p.PanicOnWarn != nil {
		k.SetParam("panic_on_warn", "int", int64(*p.PanicOnWarn))
	}
	if p.CrashKernelLoaded != nil {
		// kexec_crash_image: a pointer to the loaded struct kimage.
		v := int64(0)
		if *p.CrashKernelLoaded {
			v = int64(k.Alloc(64, 8))
		}
		k.SetParam("kexec_crash_image", "unsigned long", v)
	}
	if p.PanicCPU != nil {
		k.SetParam("panic_cpu", "int", int64(*p.PanicCPU))
	}
	if p.OopsInProgress != nil {
		k.SetParam("oops_in_progress", "int", int64(*p.OopsInProgress))
	}
	if p.TaintedMask != nil {
		k.SetParam("tainted_mask", "unsigned long", int64(*p.TaintedMask))
	}
}

// --- notifier chains and kmsg dumpers --------------------------------------

// Notifier is one struct notifier_block.
type Notifier struct {
	Callback uint64
	Priority int
}

// NotifierChain adds the global chain head name of headType
// ("atomic_notifier_head" or "blocking_notifier_head") whose list holds ns
// in the order given (notifier_chain_register() keeps it sorted by
// descending priority; give them sorted to model a real chain). It returns
// the head and each block's address.
func (k *Kernel) NotifierChain(name, headType string, ns ...Notifier) (head uint64, blocks []uint64) {
	ht := "struct " + headType
	head = k.Data(name, k.types.Sizeof(ht), 8)
	const nbt = "struct notifier_block"
	for _, n := range ns {
		b := k.Object(nbt)
		k.Set(b, nbt, "notifier_call", n.Callback)
		k.Set(b, nbt, "priority", uint64(int64(n.Priority)))
		blocks = append(blocks, b)
	}
	for i, b := range blocks {
		if i+1 < len(blocks) {
			k.Set(b, nbt, "next", blocks[i+1])
		}
	}
	if len(blocks) > 0 {
		k.Set(head, ht, "head", blocks[0])
	}
	return head, blocks
}

// SetNotifierNext points block's next at next (a cycle, a bad pointer).
func (k *Kernel) SetNotifierNext(block, next uint64) {
	k.Set(block, "struct notifier_block", "next", next)
}

// Dumper is one struct kmsg_dumper.
type Dumper struct {
	Callback   uint64
	MaxReason  int
	Registered bool
}

// KmsgDumpers adds dump_list (kernel/printk/printk.c) holding ds in order.
func (k *Kernel) KmsgDumpers(ds ...Dumper) []uint64 {
	head := k.ListHead("dump_list")
	const dt = "struct kmsg_dumper"
	var out []uint64
	for _, d := range ds {
		a := k.Object(dt)
		k.Set(a, dt, "dump", d.Callback)
		k.Set(a, dt, "max_reason", uint64(d.MaxReason))
		if d.Registered {
			k.Set(a, dt, "registered", 1)
		}
		k.ListAddTail(a+k.types.Offset(dt, "list"), head)
		out = append(out, a)
	}
	return out
}

// --- consoles ---------------------------------------------------------------

// Console is one struct console.
type Console struct {
	Name  string
	Index int
	Flags uint64
}

// Consoles adds console_drivers (before 6.2) listing cs in order.
func (k *Kernel) Consoles(cs ...Console) {
	const ct = "struct console"
	head := k.Data("console_drivers", 8, 8)
	var prev uint64
	for _, c := range cs {
		a := k.Object(ct)
		k.PutString(a+k.types.Offset(ct, "name"), c.Name)
		k.Set(a, ct, "index", uint64(c.Index))
		k.Set(a, ct, "flags", c.Flags)
		if prev == 0 {
			k.PutU64(head, a)
		} else {
			k.Set(prev, ct, "next", a)
		}
		prev = a
	}
}

// --- pstore -----------------------------------------------------------------

// persistentRAMSig is PERSISTENT_RAM_SIG (fs/pstore/ram_core.c).
const persistentRAMSig = 0x43474244

// Ramoops registers the ramoops pstore backend (psinfo, oops_cxt) over a
// physical region of len(zones) dmesg zones of recordSize bytes; each zone
// holds a struct persistent_ram_buffer with that text ("" leaves the zone
// empty). It returns the region's physical address.
func (k *Kernel) Ramoops(recordSize uint64, zones ...string) uint64 {
	const it, ct = "struct pstore_info", "struct ramoops_context"
	size := recordSize * uint64(len(zones))
	region := k.AllocPhys(size, PageSize)
	k.WritePhys(region, make([]byte, size))
	for i, z := range zones {
		if z == "" {
			continue
		}
		at := region + uint64(i)*recordSize
		b := binary.LittleEndian.AppendUint32(nil, persistentRAMSig)
		b = binary.LittleEndian.AppendUint32(b, 0)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(z)))
		k.WritePhys(at, append(b, z...))
	}
	info := k.Object(it)
	name := k.Alloc(16, 8)
	k.PutString(name, "ramoops")
	k.Set(info, it, "name", name)
	k.Set(info, it, "bufsize", recordSize-12)
	k.Set(info, it, "flags", 1) // PSTORE_FLAGS_DMESG
	pp := k.Data("psinfo", 8, 8)
	k.PutU64(pp, info)
	cxt := k.Data("oops_cxt", k.types.Sizeof(ct), 8)
	k.Set(cxt, ct, "phys_addr", region)
	k.Set(cxt, ct, "size", size)
	k.Set(cxt, ct, "record_size", recordSize)
	return region
}

// NoPstore adds psinfo as NULL: no backend registered.
func (k *Kernel) NoPstore() { k.Data("psinfo", 8, 8) }

// --- tasks and CPUs ---------------------------------------------------------

// Task allocates a task_struct with a THREAD_SIZE stack (in the direct
// map, as without CONFIG_VMAP_STACK) and returns its address.
func (k *Kernel) Task(pid int, comm string) uint64 {
	const tt = "struct task_struct"
	t := k.Object(tt)
	stack := k.Alloc(threadSize, threadSize)
	k.Set(t, tt, "stack", stack)
	k.Set(t, tt, "pid", uint64(pid))
	k.Set(t, tt, "tgid", uint64(pid))
	k.PutString(t+k.types.Offset(tt, "comm"), comm)
	for _, l := range []string{"tasks", "thread_group"} {
		a := t + k.types.Offset(tt, l)
		k.PutU64(a, a)
		k.PutU64(a+8, a)
	}
	return t
}

// TaskStack is [begin, end) of the task's stack.
func (k *Kernel) TaskStack(task uint64) (begin, end uint64) {
	begin = k.U64(task + k.types.Offset("struct task_struct", "stack"))
	return begin, begin + threadSize
}

// Regs are the saved registers of a CPU (the ones the unwinder starts from).
type Regs struct {
	IP, SP, BP uint64
}

// CPU is one CPU's saved state: its NT_PRSTATUS note and current task.
type CPU struct {
	Regs  Regs
	PID   int
	Task  uint64
	Saved bool // has an NT_PRSTATUS note
}

// SetCPU records cpu's saved registers (an NT_PRSTATUS note, as
// crash_save_cpu() writes) and sets its per-CPU current_task.
func (k *Kernel) SetCPU(cpu int, task uint64, pid int, regs Regs) {
	if !k.HasSym("current_task") {
		k.PerCPUVar("current_task", 8)
	}
	k.PutU64(k.PerCPUAddr(k.Sym("current_task"), cpu), task)
	k.SaveCPU(cpu, task, pid, regs)
}

// SaveCPU records cpu's NT_PRSTATUS note only (the current task is then
// the test's business, e.g. pcpu_hot.current_task on 6.2+).
func (k *Kernel) SaveCPU(cpu int, task uint64, pid int, regs Regs) {
	k.cpus[cpu] = CPU{Regs: regs, PID: pid, Task: task, Saved: true}
}

// CallStack lays out a call chain on task's stack: fns[0] is the innermost
// function (where IP is), each fns[i] called fns[i-1] with a direct call
// (E8 rel32) whose return address is on the stack, and the outermost
// fns[len-1] should be marked EndOfStack. It returns the registers a CPU
// stopped in fns[0] would have saved.
func (k *Kernel) CallStack(task uint64, fns ...uint64) Regs {
	_, end := k.TaskStack(task)
	sp := end - 8*uint64(len(fns)+8)
	for i := 1; i < len(fns); i++ {
		ret := fns[i] + 0x20 + uint64(i)
		k.call(ret, fns[i-1])
		k.PutU64(sp+8*uint64(i-1), ret)
	}
	return Regs{IP: fns[0] + 0x10, SP: sp}
}

// CallStackFP lays out a call chain with frame pointers: every fns[i]
// pushed %rbp, so BP points at a {saved BP, return address} record, and
// called fns[i-1] indirectly (call *%rax: no call target to check). The
// outermost record holds BP 0. It returns the registers of a CPU stopped
// in fns[0].
func (k *Kernel) CallStackFP(task uint64, fns ...uint64) Regs {
	_, end := k.TaskStack(task)
	rec := end - 16*uint64(len(fns)+4)
	bp := rec
	for i := 0; i < len(fns); i++ {
		next, ret := uint64(0), uint64(0)
		if i+1 < len(fns) {
			next = rec + 16*uint64(i+1)
			ret = fns[i+1] + 0x20 + uint64(i)
			k.Write(ret-2, []byte{0xff, 0xd0})
		}
		k.PutU64(rec+16*uint64(i), next)
		k.PutU64(rec+16*uint64(i)+8, ret)
	}
	return Regs{IP: fns[0] + 0x10, SP: bp - 32, BP: bp}
}

// --- modules ----------------------------------------------------------------

// moduleArea is MODULES_VADDR with a 1 GiB image; the fake maps 2 MiB of
// it, moduleSpan per module.
const (
	moduleArea     = 0xffffffffc0000000
	moduleAreaSize = 2 << 20
	moduleSpan     = 0x10000
)

// Module is a loaded module: its struct module and symbols.
type Module struct {
	Name string
	Addr uint64 // struct module
	Base uint64 // core_layout.base
	Size uint64
	// ORCCount, when set, replaces the num_orcs written (a hostile or
	// corrupt count).
	ORCCount uint64
	// RawBTF, when set, is stored as the module's BTF instead of what
	// ModuleBTF describes (a corrupt blob).
	RawBTF []byte
	funcs  map[string]uint64
	btf    []moduleStruct
}

// Func is the address of one of the module's functions.
func (m *Module) Func(name string) uint64 {
	a, ok := m.funcs[name]
	if !ok {
		panic(fmt.Sprintf("fakeprog: module %s has no %s", m.Name, name))
	}
	return a
}

// AddModule loads a module with the given functions (each 0x100 bytes of
// text in the module area, which the dump does not hold) listed in its
// own kallsyms (struct mod_kallsyms, kernel/module/kallsyms.c
// add_kallsyms()), and taints (struct module.taints).
func (k *Kernel) AddModule(name string, taints uint64, funcs ...string) *Module {
	const mt, kt = "struct module", "struct mod_kallsyms"
	m := &Module{Name: name, Base: moduleArea + uint64(len(k.mods))*moduleSpan, funcs: map[string]uint64{}}
	m.Size = uint64(len(funcs)+1) * funcSize
	if m.Size > moduleSpan || m.Base+moduleSpan > moduleArea+moduleAreaSize {
		panic("fakeprog: too many modules or functions")
	}
	code := make([]byte, m.Size)
	for i := range code {
		code[i] = 0xcc
	}
	k.Write(m.Base, code)
	m.Addr = k.Object(mt)
	k.PutString(m.Addr+k.types.Offset(mt, "name"), name)
	k.Set(m.Addr, mt, "core_layout.base", m.Base)
	k.Set(m.Addr, mt, "core_layout.size", m.Size)
	k.Set(m.Addr, mt, "core_layout.text_size", m.Size)
	k.Set(m.Addr, mt, "taints", taints)
	// Elf64_Sym[0] is the null symbol, as in every ELF symbol table.
	strtab := []byte{0}
	symtab := make([]byte, 24)
	typetab := []byte{0}
	for i, f := range funcs {
		addr := m.Base + uint64(i)*funcSize
		m.funcs[f] = addr
		e := make([]byte, 24)
		binary.LittleEndian.PutUint32(e[0:], uint32(len(strtab)))
		e[4] = 1<<4 | 2 // STB_GLOBAL, STT_FUNC
		binary.LittleEndian.PutUint16(e[6:], 1)
		binary.LittleEndian.PutUint64(e[8:], addr)
		binary.LittleEndian.PutUint64(e[16:], funcSize)
		symtab = append(symtab, e...)
		strtab = append(append(strtab, f...), 0)
		typetab = append(typetab, 't')
	}
	ks := k.Object(kt)
	for _, x := range []struct {
		member string
		data   []byte
	}{{"symtab", symtab}, {"strtab", strtab}, {"typetab", typetab}} {
		a := k.Alloc(uint64(len(x.data)), 8)
		k.Write(a, x.data)
		k.Set(ks, kt, x.member, a)
	}
	k.Set(ks, kt, "num_symtab", uint64(len(funcs)+1))
	k.Set(m.Addr, mt, "kallsyms", ks)
	k.ListAddTail(m.Addr+k.types.Offset(mt, "list"), k.modulesHead)
	k.mods = append(k.mods, m)
	return m
}
