// Package fakeprog builds a small fake x86_64 Linux kernel crash dump in Go,
// for tests that must run without the real dumps in ../shared: physical
// memory with page tables (a kernel image mapping and the direct map),
// kallsyms tables and VMCOREINFO as the kernel writes them, BTF built with
// cilium/ebpf, an ORC table, a printk ring buffer and kernel objects laid out
// through that BTF (notifier chains, kmsg dumpers, tasks, modules, pstore,
// consoles, per-CPU data, stacks). WriteFile writes it as a kdump-style
// ELF core (/proc/vmcore; with Hypervisor, QEMU's CPU-state notes too) and
// WriteLiveTree as a /proc/kcore, /proc/kallsyms and /sys/kernel/btf root
// for live mode, so the code under test opens it exactly as a real dump:
// vmcore, target, analysis, trim and unwind run unchanged.
//
// NewScenario is a ready-made kdump'd 6.1 panic to start from.
//
// It is modelled on drgn's mock_program (tests/__init__.py: memory
// segments, symbols and types given by the test), but produces a dump file
// instead of hooking the reader, so no seam is needed in the code under
// test.
//
// A Kernel is built by one goroutine; addresses it hands out are kernel
// virtual addresses. Every helper panics on misuse (a test bug), never on
// anything the code under test does.
package fakeprog

import (
	"encoding/binary"
	"fmt"
	"sort"
)

// Fixed parts of the fake address space (x86_64 4-level paging, no memory
// KASLR: Documentation/arch/x86/x86_64/mm.rst).
const (
	PageSize   = 4096
	PageOffset = 0xffff888000000000 // page_offset_base: the direct map of physical 0
	KernelMap  = 0xffffffff80000000 // __START_KERNEL_map: physical 0 with phys_base 0

	// Physical layout of the image and the heap.
	textPhys   = 0x1000000 // _stext (0xffffffff81000000)
	textMax    = 0x400000
	rodataPhys = 0x1400000
	rodataMax  = 0x800000
	dataPhys   = 0x1c00000
	dataMax    = 0x400000
	heapPhys   = 0x3000000
	heapMax    = 0x4000000
	// MemSize is the fake machine's RAM; only pages written are in the dump.
	MemSize = heapPhys + heapMax

	funcSize     = 0x100
	percpuStride = 0x10000 // per-CPU area size
	threadSize   = 16 << 10
)

// TextBase is _stext.
const TextBase = KernelMap + textPhys

// Symbol is one entry of the fake symbol table.
type Symbol struct {
	Name string
	Addr uint64
	Size uint64
	Type byte // nm letter: 'T' text, 'D' data, ...
}

// Kernel is a fake kernel under construction.
type Kernel struct {
	// Release is OSRELEASE and utsname.release.
	Release  string
	Hostname string
	Version  string
	BuildID  string
	// CrashTime, when non-zero, is VMCOREINFO's CRASHTIME (a kdump capture).
	CrashTime int64

	// Leave-outs, for tests of absence.
	NoVMCOREINFO   bool // no VMCOREINFO note at all
	NoKallsymsInfo bool // VMCOREINFO does not locate kallsyms (< 6.0)
	NoBTF          bool // no __start_BTF / __stop_BTF
	NoORC          bool // no ORC tables
	// ORCv3 writes ORC entries in the 6.4+ layout and describes struct
	// orc_entry in BTF (which is how the unwinder tells the layout).
	ORCv3 bool
	// VMCOREINFOInMemory puts the kernel's own VMCOREINFO page in memory
	// (with NoVMCOREINFO: a dump whose writer left the note out).
	VMCOREINFOInMemory bool

	// Hypervisor adds a "QEMU" CPU-state note per saved CPU, as QEMU's
	// dump-guest-memory writes (with CR3 = init_top_pgt, CR4 without LA57).
	Hypervisor bool

	// ExtraInfo lines are appended to VMCOREINFO.
	ExtraInfo []string

	pages map[uint64][]byte // pfn -> page
	syms  []Symbol
	byNm  map[string]int

	textNext, rodataNext, dataNext, heapNext uint64
	percpuNext                               uint64

	types *Types
	cpus  []CPU
	orc   []orcAt
	log   *Ring
	mods  []*Module
	// modulesHead is the `modules` list_head.
	modulesHead  uint64
	built        bool
	kallsymsInfo []string
	modPhys      uint64 // physical address of the module area
	btfBlob      []byte
}

// New starts a fake kernel with page tables, utsname, per-CPU bookkeeping
// and the standard types. ncpus CPUs have per-CPU areas; their saved
// registers come from AddCPU.
func New(release string, ncpus int) *Kernel {
	k := &Kernel{
		Release:    release,
		Hostname:   "fakehost",
		Version:    "#1 SMP PREEMPT_DYNAMIC Debian 6.1.0-0 (fake)",
		BuildID:    "0123456789abcdef0123456789abcdef01234567",
		pages:      map[uint64][]byte{},
		byNm:       map[string]int{},
		textNext:   textPhys,
		rodataNext: rodataPhys,
		dataNext:   dataPhys,
		heapNext:   heapPhys,
	}
	k.types = newTypes()
	// _stext first so that it is the first text symbol.
	k.AddSymbol(Symbol{Name: "_stext", Addr: TextBase, Type: 'T'})
	k.AddSymbol(Symbol{Name: "_text", Addr: TextBase, Type: 'T'})
	k.textNext += 0x100
	k.pageTables()
	k.uts()
	k.percpu(ncpus)
	k.modulesHead = k.ListHead("modules")
	// No module BTF: an empty btf_modules list (kernel/bpf/btf.c).
	k.ListHead("btf_modules")
	return k
}

// Types is the fake kernel's BTF, to add or look up layouts.
func (k *Kernel) Types() *Types { return k.types }

// --- memory ---------------------------------------------------------------

// Phys returns the direct-map address of physical address pa.
func Phys(pa uint64) uint64 { return PageOffset + pa }

// physOf translates an address of the module area, the image mapping or
// the direct map.
func (k *Kernel) physOf(va uint64) uint64 {
	switch {
	case va >= moduleArea && va-moduleArea < moduleAreaSize:
		return k.modPhys + va - moduleArea
	case va >= KernelMap && va-KernelMap < 1<<30:
		return va - KernelMap
	case va >= PageOffset && va < PageOffset+MemSize:
		return va - PageOffset
	}
	panic(fmt.Sprintf("fakeprog: %#x is neither in the kernel image nor in the direct map", va))
}

// WritePhys stores b at physical address pa.
func (k *Kernel) WritePhys(pa uint64, b []byte) {
	for len(b) > 0 {
		pfn, off := pa/PageSize, pa%PageSize
		p := k.pages[pfn]
		if p == nil {
			p = make([]byte, PageSize)
			k.pages[pfn] = p
		}
		n := copy(p[off:], b)
		b, pa = b[n:], pa+uint64(n)
	}
}

// Write stores b at kernel virtual address va (image or direct map).
func (k *Kernel) Write(va uint64, b []byte) { k.WritePhys(k.physOf(va), b) }

// ReadBack returns n bytes at va as written so far (zeros where nothing was).
func (k *Kernel) ReadBack(va uint64, n int) []byte {
	out := make([]byte, n)
	pa := k.physOf(va)
	for i := range out {
		if p := k.pages[(pa+uint64(i))/PageSize]; p != nil {
			out[i] = p[(pa+uint64(i))%PageSize]
		}
	}
	return out
}

// PutU64 and friends write little-endian integers.
func (k *Kernel) PutU64(va, v uint64) { k.Write(va, binary.LittleEndian.AppendUint64(nil, v)) }
func (k *Kernel) PutU32(va uint64, v uint32) {
	k.Write(va, binary.LittleEndian.AppendUint32(nil, v))
}
func (k *Kernel) PutU16(va uint64, v uint16) {
	k.Write(va, binary.LittleEndian.AppendUint16(nil, v))
}
func (k *Kernel) PutU8(va uint64, v uint8) { k.Write(va, []byte{v}) }

// PutString writes s and a NUL.
func (k *Kernel) PutString(va uint64, s string) { k.Write(va, append([]byte(s), 0)) }

// Drop removes the page holding va from the dump, as a filtered or
// truncated dump would miss it.
func (k *Kernel) Drop(va uint64) { delete(k.pages, k.physOf(va)/PageSize) }

func alignUp(v, a uint64) uint64 { return (v + a - 1) &^ (a - 1) }

func (k *Kernel) bump(next *uint64, base, max, size, align uint64, what string) uint64 {
	if align == 0 {
		align = 8
	}
	at := alignUp(*next, align)
	if at+size > base+max {
		panic(fmt.Sprintf("fakeprog: %s area full", what))
	}
	*next = at + size
	// Touch the pages so that zero-filled objects are in the dump too.
	k.WritePhys(at, make([]byte, size))
	return at
}

// Alloc is kmalloc: size zeroed bytes in the direct map, align-aligned.
func (k *Kernel) Alloc(size, align uint64) uint64 {
	return Phys(k.bump(&k.heapNext, heapPhys, heapMax, size, align, "heap"))
}

// AllocPhys reserves size bytes of physical memory (e.g. a ramoops region)
// and returns the physical address. Nothing is written.
func (k *Kernel) AllocPhys(size, align uint64) uint64 {
	at := alignUp(k.heapNext, align)
	if at+size > heapPhys+heapMax {
		panic("fakeprog: heap area full")
	}
	k.heapNext = at + size
	return at
}

// Data allocates a global variable in the image's data section.
func (k *Kernel) Data(name string, size, align uint64) uint64 {
	va := KernelMap + k.bump(&k.dataNext, dataPhys, dataMax, size, align, "data")
	k.AddSymbol(Symbol{Name: name, Addr: va, Size: size, Type: 'D'})
	return va
}

func (k *Kernel) rodata(size, align uint64) uint64 {
	return KernelMap + k.bump(&k.rodataNext, rodataPhys, rodataMax, size, align, "rodata")
}

// --- symbols --------------------------------------------------------------

// AddSymbol adds a vmlinux symbol. Names are unique.
func (k *Kernel) AddSymbol(s Symbol) {
	if k.built {
		panic("fakeprog: symbol added after WriteFile")
	}
	if _, dup := k.byNm[s.Name]; dup {
		panic("fakeprog: duplicate symbol " + s.Name)
	}
	k.byNm[s.Name] = len(k.syms)
	k.syms = append(k.syms, s)
}

// Sym is the address of a symbol added so far.
func (k *Kernel) Sym(name string) uint64 {
	i, ok := k.byNm[name]
	if !ok {
		panic("fakeprog: no symbol " + name)
	}
	return k.syms[i].Addr
}

// HasSym reports whether name was added.
func (k *Kernel) HasSym(name string) bool { _, ok := k.byNm[name]; return ok }

// Symbols lists the vmlinux symbols sorted by address (a System.map).
func (k *Kernel) Symbols() []Symbol {
	out := append([]Symbol(nil), k.syms...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Addr < out[j].Addr })
	return out
}

// Func adds a text function of the default size with an ORC entry that
// says "return address at SP" (a frame without a frame pointer, what
// objtool writes after the prologue of a leaf-ish function), and returns
// its address. Code bytes are int3 except the calls written by Stack.
func (k *Kernel) Func(name string) uint64 {
	pa := k.bump(&k.textNext, textPhys, textMax, funcSize, 16, "text")
	code := make([]byte, funcSize)
	for i := range code {
		code[i] = 0xcc
	}
	k.WritePhys(pa, code)
	va := KernelMap + pa
	k.AddSymbol(Symbol{Name: name, Addr: va, Size: funcSize, Type: 'T'})
	k.orc = append(k.orc, orcAt{ip: va, e: orcCall})
	return va
}

// EndOfStack marks fn's ORC entry as UNWIND_HINT_END_OF_STACK (the
// outermost frame of a kernel thread, as ret_from_fork's).
func (k *Kernel) EndOfStack(fn uint64) { k.setORC(fn, orcEnd) }

// EntryORC marks fn's ORC entry as UNWIND_HINT_REGS: entry code with a
// struct pt_regs at SP (asm_exc_nmi after PUSH_AND_CLEAR_REGS).
func (k *Kernel) EntryORC(fn uint64) { k.setORC(fn, orcRegs) }

// setORC replaces fn's ORC entry.
func (k *Kernel) setORC(fn uint64, e orcEntry) {
	for i := range k.orc {
		if k.orc[i].ip == fn {
			k.orc[i].e = e
			return
		}
	}
	panic(fmt.Sprintf("fakeprog: no function at %#x", fn))
}

// FramePointerORC marks fn's ORC entry as a frame-pointer frame (objtool
// output for a function built with frame pointers), for CallStackFP.
func (k *Kernel) FramePointerORC(fn uint64) { k.setORC(fn, orcFP) }

// UndefinedORC marks fn's ORC entry undefined (an unwind hint hole), so
// unwinders must fall back to frame pointers or scanning.
func (k *Kernel) UndefinedORC(fn uint64) { k.setORC(fn, orcUndefined) }

// --- page tables, utsname, per-CPU -----------------------------------------

const (
	ptePresent = 1
	pteRW      = 2
	ptePSE     = 0x80
)

// pageTables builds init_top_pgt with two 1 GiB mappings: the direct map
// of physical 0 at PageOffset and the kernel image at __START_KERNEL_map.
func (k *Kernel) pageTables() {
	pgd := k.Data("init_top_pgt", PageSize, PageSize)
	pudDirect := k.Data("level3_ident_pgt", PageSize, PageSize)
	pudKernel := k.Data("level3_kernel_pgt", PageSize, PageSize)
	pmdModules := k.Data("level2_modules_pgt", PageSize, PageSize)
	k.modPhys = k.AllocPhys(moduleAreaSize, moduleAreaSize)
	k.PutU64(pgd+8*(PageOffset>>39&511), k.physOf(pudDirect)|ptePresent|pteRW)
	k.PutU64(pgd+8*(KernelMap>>39&511), k.physOf(pudKernel)|ptePresent|pteRW)
	k.PutU64(pudDirect+8*(PageOffset>>30&511), 0|ptePresent|pteRW|ptePSE)
	k.PutU64(pudKernel+8*(KernelMap>>30&511), 0|ptePresent|pteRW|ptePSE)
	// The module area is walked: a PMD with one 2 MiB page.
	k.PutU64(pudKernel+8*(moduleArea>>30&511), k.physOf(pmdModules)|ptePresent|pteRW)
	k.PutU64(pmdModules+8*(moduleArea>>21&511), k.modPhys|ptePresent|pteRW|ptePSE)
	po := k.Data("page_offset_base", 8, 8)
	k.PutU64(po, PageOffset)
}

// utsOffset is OFFSET(uts_namespace.name).
const utsOffset = 0

func (k *Kernel) uts() {
	k.Data("init_uts_ns", 6*65+8, 8)
}

func (k *Kernel) writeUTS() {
	a := k.Sym("init_uts_ns") + utsOffset
	for i, s := range []string{"Linux", k.Hostname, k.Release, k.Version, "x86_64", "(none)"} {
		k.PutString(a+uint64(i)*65, s)
	}
}

// percpu lays out __per_cpu_offset[] and nr_cpu_ids; PerCPUVar places
// variables in every CPU's area.
func (k *Kernel) percpu(ncpus int) {
	if ncpus < 1 {
		panic("fakeprog: at least one CPU")
	}
	k.percpuNext = 0x1000 // symbols start past fixed_percpu_data
	off := k.Data("__per_cpu_offset", 8*uint64(ncpus), 8)
	areas := k.Alloc(percpuStride*uint64(ncpus), PageSize)
	for c := 0; c < ncpus; c++ {
		k.PutU64(off+8*uint64(c), areas+percpuStride*uint64(c))
	}
	n := k.Data("nr_cpu_ids", 4, 4)
	k.PutU32(n, uint32(ncpus))
	k.cpus = make([]CPU, ncpus)
}

// NumCPUs is the number of per-CPU areas.
func (k *Kernel) NumCPUs() int { return len(k.cpus) }

// PerCPUVar adds a per-CPU variable (a symbol whose value is an offset
// into every CPU's area, as in kallsyms) and returns that offset.
func (k *Kernel) PerCPUVar(name string, size uint64) uint64 {
	at := alignUp(k.percpuNext, 8)
	if at+size > percpuStride {
		panic("fakeprog: per-CPU area full")
	}
	k.percpuNext = at + size
	k.AddSymbol(Symbol{Name: name, Addr: at, Size: size, Type: 'D'})
	return at
}

// PerCPUAddr is per_cpu_ptr(&var, cpu) for a variable at offset off.
func (k *Kernel) PerCPUAddr(off uint64, cpu int) uint64 {
	base := binary.LittleEndian.Uint64(k.ReadBack(k.Sym("__per_cpu_offset")+8*uint64(cpu), 8))
	return base + off
}
