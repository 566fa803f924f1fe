package fakeprog

import (
	"fmt"
	"strings"

	"github.com/cilium/ebpf/btf"
)

// Types holds the fake kernel's BTF: C types whose member offsets are
// computed with the x86_64 ABI's natural alignment, so objects written
// with Offset land where the code under test reads them.
type Types struct {
	named map[string]btf.Type // "struct x", "enum y", "int", typedef names
	order []btf.Type
}

// Field is one struct member.
type Field struct {
	Name string
	Type btf.Type
}

// F is a Field.
func F(name string, t btf.Type) Field { return Field{name, t} }

func newTypes() *Types {
	t := &Types{named: map[string]btf.Type{}}
	for _, b := range []struct {
		name string
		size uint32
		enc  btf.IntEncoding
	}{
		{"char", 1, btf.Char | btf.Signed},
		{"unsigned char", 1, btf.Unsigned},
		{"_Bool", 1, btf.Bool},
		{"short int", 2, btf.Signed},
		{"short unsigned int", 2, btf.Unsigned},
		{"int", 4, btf.Signed},
		{"unsigned int", 4, btf.Unsigned},
		{"long int", 8, btf.Signed},
		{"long unsigned int", 8, btf.Unsigned},
		{"long long int", 8, btf.Signed},
		{"long long unsigned int", 8, btf.Unsigned},
	} {
		t.add(b.name, &btf.Int{Name: b.name, Size: b.size, Encoding: b.enc})
	}
	t.standard()
	return t
}

func (t *Types) add(name string, ty btf.Type) {
	if _, dup := t.named[name]; dup {
		panic("fakeprog: type defined twice: " + name)
	}
	t.named[name] = ty
	t.order = append(t.order, ty)
}

// Has reports whether a type of that name ("struct x", "int") exists.
func (t *Types) Has(name string) bool { _, ok := t.named[name]; return ok }

// T is the type named name ("struct list_head", "int", "unsigned long"),
// with trailing "*" for pointers.
func (t *Types) T(name string) btf.Type {
	name = strings.TrimSpace(name)
	if base, ok := strings.CutSuffix(name, "*"); ok {
		return &btf.Pointer{Target: t.T(base)}
	}
	switch name {
	case "void":
		return &btf.Void{}
	case "unsigned long":
		name = "long unsigned int"
	case "long":
		name = "long int"
	case "bool":
		name = "_Bool"
	case "short":
		name = "short int"
	case "unsigned short":
		name = "short unsigned int"
	case "u8":
		name = "unsigned char"
	}
	ty, ok := t.named[name]
	if !ok {
		panic("fakeprog: no type " + name)
	}
	return ty
}

// Array is elem[n].
func (t *Types) Array(elem btf.Type, n uint32) btf.Type {
	return &btf.Array{Index: t.T("unsigned int"), Type: elem, Nelems: n}
}

// FuncPtr is a pointer to a function returning int.
func (t *Types) FuncPtr() btf.Type {
	return &btf.Pointer{Target: &btf.FuncProto{Return: t.T("int")}}
}

// Declare creates an empty struct to refer to before Define fills it (for
// self-referential and mutually recursive structs).
func (t *Types) Declare(name string) *btf.Struct {
	s := &btf.Struct{Name: name}
	t.add("struct "+name, s)
	return s
}

// Struct declares and defines struct name.
func (t *Types) Struct(name string, fields ...Field) *btf.Struct {
	s := t.Declare(name)
	t.Define(s, fields...)
	return s
}

// Define lays out fields in s with natural alignment.
func (t *Types) Define(s *btf.Struct, fields ...Field) {
	var off, align uint32 = 0, 1
	s.Members = nil
	for _, f := range fields {
		sz, al := sizeAlign(f.Type)
		off = (off + al - 1) &^ (al - 1)
		s.Members = append(s.Members, btf.Member{Name: f.Name, Type: f.Type, Offset: btf.Bits(off * 8)})
		off += sz
		align = max(align, al)
	}
	s.Size = (off + align - 1) &^ (align - 1)
}

// Enum declares enum name with values in order from 0.
func (t *Types) Enum(name string, values ...string) *btf.Enum {
	e := &btf.Enum{Name: name, Size: 4, Signed: false}
	for i, v := range values {
		e.Values = append(e.Values, btf.EnumValue{Name: v, Value: uint64(i)})
	}
	t.add("enum "+name, e)
	return e
}

// Typedef declares a typedef.
func (t *Types) Typedef(name string, ty btf.Type) {
	t.add(name, &btf.Typedef{Name: name, Type: ty})
}

// Sizeof is sizeof(type name).
func (t *Types) Sizeof(name string) uint64 {
	sz, _ := sizeAlign(t.T(name))
	return uint64(sz)
}

// Offset is offsetof(struct, member path) with "." through nested structs
// and "[i]" for array elements.
func (t *Types) Offset(typeName, path string) uint64 {
	off, _ := t.member(typeName, path)
	return off
}

// MemberSize is sizeof the member at path.
func (t *Types) MemberSize(typeName, path string) uint64 {
	_, ty := t.member(typeName, path)
	sz, _ := sizeAlign(ty)
	return uint64(sz)
}

func (t *Types) member(typeName, path string) (uint64, btf.Type) {
	ty := t.T(typeName)
	var off uint64
	for _, part := range strings.Split(path, ".") {
		idx := -1
		if i := strings.IndexByte(part, '['); i >= 0 {
			fmt.Sscanf(part[i:], "[%d]", &idx)
			part = part[:i]
		}
		s, ok := underlying(ty).(*btf.Struct)
		if !ok {
			panic(fmt.Sprintf("fakeprog: %s.%s: not a struct", typeName, path))
		}
		found := false
		for _, m := range s.Members {
			if m.Name == part {
				off += uint64(m.Offset / 8)
				ty, found = m.Type, true
				break
			}
		}
		if !found {
			panic(fmt.Sprintf("fakeprog: %s has no member %s", typeName, path))
		}
		if idx >= 0 {
			a := underlying(ty).(*btf.Array)
			sz, _ := sizeAlign(a.Type)
			off += uint64(idx) * uint64(sz)
			ty = a.Type
		}
	}
	return off, ty
}

func underlying(ty btf.Type) btf.Type {
	for {
		td, ok := ty.(*btf.Typedef)
		if !ok {
			return ty
		}
		ty = td.Type
	}
}

func sizeAlign(ty btf.Type) (size, align uint32) {
	switch v := ty.(type) {
	case *btf.Int:
		return v.Size, v.Size
	case *btf.Pointer:
		return 8, 8
	case *btf.Enum:
		return v.Size, v.Size
	case *btf.Typedef:
		return sizeAlign(v.Type)
	case *btf.Array:
		s, a := sizeAlign(v.Type)
		return s * v.Nelems, a
	case *btf.Struct:
		a := uint32(1)
		for _, m := range v.Members {
			_, ma := sizeAlign(m.Type)
			a = max(a, ma)
		}
		return v.Size, a
	}
	panic(fmt.Sprintf("fakeprog: no layout for %T", ty))
}

// Marshal encodes every declared type as a vmlinux BTF blob.
func (t *Types) Marshal() []byte {
	b, err := btf.NewBuilder(nil, nil)
	if err != nil {
		panic(err)
	}
	for _, ty := range t.order {
		if _, err := b.Add(ty); err != nil {
			panic(fmt.Sprintf("fakeprog: BTF %v: %v", ty, err))
		}
	}
	blob, err := b.Marshal(nil, nil)
	if err != nil {
		panic(err)
	}
	return blob
}

// standard declares the kernel types the fake objects use: the 6.1
// x86_64 layouts cut down to the members panicscope reads, in the same
// order as the kernel declares them.
func (t *Types) standard() {
	ptr := func(n string) btf.Type { return t.T(n + " *") }
	ulong, uint_, int_, char := t.T("unsigned long"), t.T("unsigned int"), t.T("int"), t.T("char")
	voidp := ptr("void")

	lh := t.Declare("list_head")
	t.Define(lh, F("next", &btf.Pointer{Target: lh}), F("prev", &btf.Pointer{Target: lh}))
	hn := t.Declare("hlist_node")
	t.Define(hn, F("next", &btf.Pointer{Target: hn}), F("pprev", &btf.Pointer{Target: &btf.Pointer{Target: hn}}))
	t.Struct("hlist_head", F("first", &btf.Pointer{Target: hn}))

	// include/linux/notifier.h
	nb := t.Declare("notifier_block")
	t.Define(nb, F("notifier_call", t.FuncPtr()), F("next", &btf.Pointer{Target: nb}), F("priority", int_))
	t.Struct("spinlock", F("val", uint_))
	t.Typedef("spinlock_t", t.T("struct spinlock"))
	t.Struct("atomic_notifier_head", F("lock", t.T("spinlock_t")), F("head", &btf.Pointer{Target: nb}))
	t.Struct("rw_semaphore", F("count", ulong), F("owner", ulong), F("wait_list", lh), F("wait_lock", uint_))
	t.Struct("blocking_notifier_head", F("rwsem", t.T("struct rw_semaphore")), F("head", &btf.Pointer{Target: nb}))

	// include/linux/kmsg_dump.h
	t.Enum("kmsg_dump_reason", "KMSG_DUMP_UNDEF", "KMSG_DUMP_PANIC", "KMSG_DUMP_OOPS", "KMSG_DUMP_EMERG", "KMSG_DUMP_SHUTDOWN", "KMSG_DUMP_MAX")
	t.Struct("kmsg_dumper", F("list", lh), F("dump", t.FuncPtr()), F("max_reason", t.T("enum kmsg_dump_reason")), F("registered", t.T("bool")))

	// include/linux/sched.h, arch/x86/include/asm/processor.h
	t.Struct("thread_struct", F("sp", ulong), F("es", t.T("short unsigned int")), F("fsbase", ulong), F("gsbase", ulong))
	t.Typedef("pid_t", int_)
	ts := t.Declare("task_struct")
	t.Define(ts, F("__state", uint_), F("stack", voidp), F("flags", uint_), F("tasks", lh),
		F("pid", t.T("pid_t")), F("tgid", t.T("pid_t")), F("thread_group", lh), F("comm", t.Array(char, 16)),
		F("thread", t.T("struct thread_struct")))
	t.Struct("inactive_task_frame", F("r15", ulong), F("r14", ulong), F("r13", ulong), F("r12", ulong),
		F("bx", ulong), F("bp", ulong), F("ret_addr", ulong))

	// include/linux/module.h (6.1: core_layout), arch/x86 mod_arch_specific
	t.Struct("module_layout", F("base", voidp), F("size", uint_), F("text_size", uint_), F("ro_size", uint_), F("ro_after_init_size", uint_))
	t.Struct("mod_arch_specific", F("num_orcs", uint_), F("orc_unwind_ip", ptr("int")), F("orc_unwind", voidp))
	t.Struct("mod_kallsyms", F("symtab", voidp), F("num_symtab", uint_), F("strtab", ptr("char")), F("typetab", ptr("char")))
	mod := t.Declare("module")
	t.Define(mod, F("state", uint_), F("list", lh), F("name", t.Array(char, 56)),
		F("core_layout", t.T("struct module_layout")), F("init_layout", t.T("struct module_layout")),
		F("arch", t.T("struct mod_arch_specific")), F("taints", ulong), F("kallsyms", ptr("struct mod_kallsyms")))
	btfS := t.Struct("btf", F("data", voidp), F("data_size", uint_), F("name", t.Array(char, 56)))
	t.Struct("btf_module", F("list", lh), F("module", &btf.Pointer{Target: mod}), F("btf", &btf.Pointer{Target: btfS}))

	// fs/pstore: include/linux/pstore.h, fs/pstore/ram.c
	t.Struct("pstore_info", F("owner", voidp), F("name", ptr("char")), F("buf_lock", uint_), F("buf", ptr("char")),
		F("bufsize", ulong), F("flags", int_), F("max_reason", int_))
	t.Struct("ramoops_context", F("dprzs", voidp), F("cprz", voidp), F("phys_addr", t.T("long long unsigned int")),
		F("size", ulong), F("memtype", uint_), F("record_size", ulong), F("console_size", ulong),
		F("ftrace_size", ulong), F("pmsg_size", ulong))

	// include/linux/console.h (6.1: console_drivers through ->next)
	con := t.Declare("console")
	t.Define(con, F("name", t.Array(char, 16)), F("write", t.FuncPtr()), F("flags", t.T("short int")),
		F("index", t.T("short int")), F("cflag", int_), F("next", &btf.Pointer{Target: con}), F("node", hn))
}
