package kernel_test

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/cilium/ebpf/btf"

	"github.com/panicscope/panicscope/vmcore/kernel"
	"github.com/panicscope/panicscope/vmcore/kernel/btfmem"
	"github.com/panicscope/panicscope/vmcore/vmem"
)

// synthTypes builds a small kernel-like type set.
func synthTypes() []btf.Type {
	intT := &btf.Int{Name: "int", Size: 4, Encoding: btf.Signed}
	uintT := &btf.Int{Name: "unsigned int", Size: 4}
	ulong := &btf.Int{Name: "long unsigned int", Size: 8}
	ullong := &btf.Int{Name: "long long unsigned int", Size: 8}
	long := &btf.Int{Name: "long int", Size: 8, Encoding: btf.Signed}
	char := &btf.Int{Name: "char", Size: 1, Encoding: btf.Char}

	listHead := &btf.Struct{Name: "list_head", Size: 16}
	lp := &btf.Pointer{Target: listHead}
	listHead.Members = []btf.Member{{Name: "next", Type: lp}, {Name: "prev", Type: lp, Offset: 64}}

	nb := &btf.Struct{Name: "notifier_block", Size: 24}
	proto := &btf.FuncProto{Return: intT, Params: []btf.FuncParam{
		{Name: "nb", Type: &btf.Pointer{Target: nb}}, {Name: "action", Type: ulong},
		{Name: "data", Type: &btf.Pointer{Target: &btf.Void{}}},
	}}
	fnT := &btf.Typedef{Name: "notifier_fn_t", Type: &btf.Pointer{Target: proto}}
	rcuNB := &btf.Pointer{Target: &btf.TypeTag{Value: "rcu", Type: nb}}
	nb.Members = []btf.Member{
		{Name: "notifier_call", Type: fnT},
		{Name: "next", Type: rcuNB, Offset: 64},
		{Name: "priority", Type: intT, Offset: 128},
	}

	// typedef struct spinlock { union { struct raw_spinlock rlock; }; } spinlock_t;
	archLock := &btf.Typedef{Name: "arch_spinlock_t", Type: &btf.Struct{Size: 4, Members: []btf.Member{{Name: "val", Type: uintT}}}}
	raw := &btf.Struct{Name: "raw_spinlock", Size: 4, Members: []btf.Member{{Name: "raw_lock", Type: archLock}}}
	spin := &btf.Struct{Name: "spinlock", Size: 4, Members: []btf.Member{
		{Type: &btf.Union{Size: 4, Members: []btf.Member{{Name: "rlock", Type: raw}}}},
	}}
	spinT := &btf.Typedef{Name: "spinlock_t", Type: spin}
	anh := &btf.Struct{Name: "atomic_notifier_head", Size: 16, Members: []btf.Member{
		{Name: "lock", Type: spinT},
		{Name: "head", Type: rcuNB, Offset: 64},
	}}

	state := &btf.Enum{Name: "lab_state", Size: 4, Signed: true, Values: []btf.EnumValue{
		{Name: "LAB_DEAD", Value: uint64(1<<64 - 1)}, {Name: "LAB_IDLE", Value: 0}, {Name: "LAB_BUSY", Value: 7},
	}}
	atomic := &btf.Typedef{Name: "atomic_t", Type: &btf.Struct{Size: 4, Members: []btf.Member{{Name: "counter", Type: intT}}}}
	flags := &btf.Struct{Name: "lab_flags", Size: 72, Members: []btf.Member{
		{Name: "a", Type: uintT, Offset: 0, BitfieldSize: 3},
		{Name: "b", Type: uintT, Offset: 3, BitfieldSize: 5},
		{Name: "s", Type: intT, Offset: 8, BitfieldSize: 4},
		{Name: "wide", Type: uintT, Offset: 12, BitfieldSize: 20},
		{Name: "big", Type: ullong, Offset: 70, BitfieldSize: 60}, // bytes 8..16, overlapping l
		{Offset: 128, Type: &btf.Union{Size: 8, Members: []btf.Member{
			{Name: "l", Type: long},
			{Name: "c", Type: &btf.Array{Index: intT, Type: char, Nelems: 8}},
		}}},
		{Name: "name", Type: &btf.Array{Index: intT, Type: &btf.Const{Type: char}, Nelems: 16}, Offset: 192},
		{Name: "st", Type: state, Offset: 320},
		{Name: "refs", Type: atomic, Offset: 352},
		{Name: "list", Type: listHead, Offset: 384},
		{Name: "comm", Type: &btf.Pointer{Target: char}, Offset: 512},
	}}
	return []btf.Type{listHead, nb, anh, flags, spinT, atomic, ulong}
}

// synthBlob marshals synthTypes to raw BTF, as the kernel stores it.
func synthBlob(t testing.TB) []byte {
	b, err := btf.NewBuilder(synthTypes(), nil)
	if err != nil {
		t.Fatal(err)
	}
	blob, err := b.Marshal(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return blob
}

// Addresses of the synthetic memory.
const (
	btfAddr   = 0xffffffff82000000
	chainAddr = 0xffffffff83000000 // struct atomic_notifier_head
	nb1       = 0xffffffff83001000
	nb2       = nb1 + 0x100
	nb3       = nb1 + 0x200
	flagsAddr = 0xffff888000010000 // struct lab_flags
	listHead  = 0xffff888000020000
	entryA    = 0xffff888000030000 // struct lab_flags with .list on listHead
	entryB    = entryA + 0x100
	entryC    = entryA + 0x200
	commAddr  = 0xffff888000040000
	pcpuAddr  = 0xffffffff84000000 // __per_cpu_offset
	nrCPUAddr = 0xffffffff84001000
)

const bigLow = 0x0123456789abcde

type region struct {
	addr uint64
	data []byte
}

func le64(b []byte, off int, v uint64) { binary.LittleEndian.PutUint64(b[off:], v) }

// newMem lays out the synthetic objects; mutate may change a region first.
func newMem(t testing.TB, mutate func(map[string]*region)) (*vmem.Fake, map[string]uint64) {
	blob := synthBlob(t)
	rs := map[string]*region{}
	add := func(name string, addr uint64, size int) []byte {
		r := &region{addr, make([]byte, size)}
		rs[name] = r
		return r.data
	}
	copy(add("btf", btfAddr, len(blob)), blob)

	chain := add("chain", chainAddr, 16)
	le64(chain, 8, nb1)
	for i, n := range []struct {
		addr, fn, next uint64
		prio           int32
	}{{nb1, 0xffffffff81000100, nb2, 200}, {nb2, 0xffffffff81000200, nb3, 0}, {nb3, 0xffffffff81000300, 0, -10}} {
		b := add("nb"+string(rune('1'+i)), n.addr, 24)
		le64(b, 0, n.fn)
		le64(b, 8, n.next)
		binary.LittleEndian.PutUint32(b[16:], uint32(n.prio))
	}

	f := add("flags", flagsAddr, 72)
	// a=5 (3 bits), b=17 (5 bits), s=-3 (4 bits), wide=0xabcde (20 bits)
	minus3, minus42 := int32(-3), int64(-42)
	w := uint32(5) | 17<<3 | (uint32(minus3)&0xf)<<8 | 0xabcde<<12
	binary.LittleEndian.PutUint32(f[0:], w)
	// big: 60 bits at bit 70 = byte 8 bit 6; its top two bits are the low
	// bits of byte 16 (0xd6 from l), so it reads 9 bytes.
	le64(f, 8, bigLow<<6)
	le64(f, 16, uint64(minus42)) // union: l = -42
	copy(f[24:], "swapper/0\x00junk")
	binary.LittleEndian.PutUint32(f[40:], 7) // st = LAB_BUSY
	binary.LittleEndian.PutUint32(f[44:], 3) // refs.counter
	le64(f, 64, commAddr)
	copy(add("comm", commAddr, 16), "kworker/1:1\x00")

	// list_head ring: head -> A -> B -> C -> head (list at offset 48)
	h := add("head", listHead, 16)
	le64(h, 0, entryA+48)
	le64(h, 8, entryC+48)
	for i, e := range []uint64{entryA, entryB, entryC} {
		b := add("entry"+string(rune('A'+i)), e, 72)
		next := []uint64{entryB + 48, entryC + 48, listHead}[i]
		le64(b, 48, next)
		binary.LittleEndian.PutUint32(b[44:], uint32(i+1)) // refs.counter = 1, 2, 3
	}

	pc := add("pcpu", pcpuAddr, 16)
	le64(pc, 0, 0x10000)
	le64(pc, 8, 0x20000)
	nr := add("nrcpu", nrCPUAddr, 4)
	binary.LittleEndian.PutUint32(nr, 2)

	if mutate != nil {
		mutate(rs)
	}
	var m vmem.Fake
	for _, r := range rs {
		m.Map(r.addr, r.data)
	}
	syms := map[string]uint64{
		"__start_BTF": btfAddr, "__stop_BTF": btfAddr + uint64(len(blob)),
		"panic_notifier_list": chainAddr, "lab_flags": flagsAddr, "lab_list": listHead,
		"__per_cpu_offset": pcpuAddr, "nr_cpu_ids": nrCPUAddr,
	}
	return &m, syms
}

func newKernel(t testing.TB, mutate func(map[string]*region)) *kernel.Kernel {
	t.Helper()
	mem, syms := newMem(t, mutate)
	k := &kernel.Kernel{Mem: mem, Syms: kernel.SymbolFunc(func(n string) (uint64, bool) {
		a, ok := syms[n]
		return a, ok
	})}
	spec, err := k.LoadBTF()
	if err != nil {
		t.Fatal(err)
	}
	k.Types = btfmem.NewTypes(spec)
	return k
}

func mustU(t *testing.T, o kernel.Object, path string) uint64 {
	t.Helper()
	m, err := o.Member(path)
	if err != nil {
		t.Fatalf("Member(%q): %v", path, err)
	}
	v, err := m.Uint()
	if err != nil {
		t.Fatalf("%s.Uint: %v", path, err)
	}
	return v
}

func mustI(t *testing.T, o kernel.Object, path string) int64 {
	t.Helper()
	m, err := o.Member(path)
	if err != nil {
		t.Fatalf("Member(%q): %v", path, err)
	}
	v, err := m.Int()
	if err != nil {
		t.Fatalf("%s.Int: %v", path, err)
	}
	return v
}

func TestNotifierChain(t *testing.T) {
	k := newKernel(t, nil)
	chain, err := k.Global("panic_notifier_list", "struct atomic_notifier_head")
	if err != nil {
		t.Fatal(err)
	}
	if v := mustU(t, chain, "lock.rlock.raw_lock.val"); v != 0 {
		t.Fatalf("lock through anonymous union = %d", v)
	}
	if p := mustU(t, chain, "head"); p != nb1 {
		t.Fatalf("head = %#x", p)
	}
	if v := mustI(t, chain, "head->priority"); v != 200 {
		t.Fatalf("head->priority = %d", v)
	}
	if v := mustI(t, chain, "head.next.next.priority"); v != -10 {
		t.Fatalf("head.next.next.priority (auto-deref) = %d", v)
	}
	first, err := chain.Member("head")
	if err == nil {
		first, err = first.Deref()
	}
	if err != nil || first.Addr != nb1 || kernel.TypeString(first.Type) != "struct notifier_block" {
		t.Fatalf("Deref head = %v, %v", first, err)
	}
	// Walk .next with SListForEach.
	off, err := k.OffsetOf("notifier_block", "next")
	if err != nil || off != 8 {
		t.Fatalf("OffsetOf(next) = %d, %v", off, err)
	}
	var prios []int64
	var calls []uint64
	err = k.SListForEachEntry(nb1, "struct notifier_block", "next", 0, func(nb kernel.Object) error {
		prios = append(prios, mustI(t, nb, "priority"))
		c, err := nb.Member("notifier_call")
		if err != nil {
			return err
		}
		p, err := c.Pointer()
		calls = append(calls, p)
		return err
	})
	if err != nil || len(prios) != 3 || prios[0] != 200 || prios[1] != 0 || prios[2] != -10 || calls[2] != 0xffffffff81000300 {
		t.Fatalf("chain = %v %x, %v", prios, calls, err)
	}
	// The last next is NULL.
	last, _ := k.Object(nb3, "struct notifier_block")
	if _, err := last.Member("next->priority"); !errors.Is(err, kernel.ErrNull) {
		t.Fatalf("NULL deref: want ErrNull, got %v", err)
	}
	if _, err := last.Member("nope"); !errors.Is(err, kernel.ErrAbsent) {
		t.Fatalf("missing member: want ErrAbsent, got %v", err)
	}
	if _, err := k.Global("no_such_symbol", "int"); !errors.Is(err, kernel.ErrAbsent) {
		t.Fatalf("missing symbol: want ErrAbsent, got %v", err)
	}
	if _, err := k.Object(0, "struct no_such_type"); !errors.Is(err, kernel.ErrAbsent) {
		t.Fatalf("missing type: want ErrAbsent, got %v", err)
	}
	if got := kernel.TypeString(mustMember(t, last, "notifier_call").Type); got != "notifier_fn_t" {
		t.Fatalf("notifier_call type %q", got)
	}
}

func mustMember(t *testing.T, o kernel.Object, path string) kernel.Object {
	t.Helper()
	m, err := o.Member(path)
	if err != nil {
		t.Fatalf("Member(%q): %v", path, err)
	}
	return m
}

func TestBitfieldsUnionsStrings(t *testing.T) {
	k := newKernel(t, nil)
	f, err := k.Global("lab_flags", "lab_flags")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path string
		u    uint64
		i    int64
	}{
		{"a", 5, -3}, {"b", 17, -15}, {"s", 13, -3}, {"wide", 0xabcde, 0xabcde - 1<<20},
		{"big", bigLow | 2<<58, int64(bigLow|2<<58) - 1<<60}, {"l", 1<<64 - 42, -42},
		{"c[0]", 0xd6, -42}, {"refs.counter", 3, 3}, {"st", 7, 7},
	} {
		if u := mustU(t, f, c.path); u != c.u {
			t.Errorf("%s.Uint = %#x, want %#x", c.path, u, c.u)
		}
		if i := mustI(t, f, c.path); i != c.i {
			t.Errorf("%s.Int = %d, want %d", c.path, i, c.i)
		}
	}
	if b := mustMember(t, f, "a"); !b.IsBitfield() {
		t.Error("a is not a bitfield")
	} else if _, err := b.Bytes(); !errors.Is(err, kernel.ErrType) {
		t.Errorf("Bytes of bitfield: %v", err)
	}
	if s, err := mustMember(t, f, "name").CString(64); err != nil || s != "swapper/0" {
		t.Errorf("name = %q, %v", s, err)
	}
	if s, err := mustMember(t, f, "name").CString(4); err != nil || s != "swap" {
		t.Errorf("name max 4 = %q, %v", s, err)
	}
	if s, err := mustMember(t, f, "comm").CString(0); err != nil || s != "kworker/1:1" {
		t.Errorf("comm = %q, %v", s, err)
	}
	if s, err := mustMember(t, f, "st").EnumName(); err != nil || s != "LAB_BUSY" {
		t.Errorf("st = %q, %v", s, err)
	}
	if _, err := f.Member("name[16]"); !errors.Is(err, kernel.ErrRange) {
		t.Errorf("name[16]: want ErrRange, got %v", err)
	}
	if n, err := mustMember(t, f, "name").Size(); n != 16 || err != nil {
		t.Errorf("name size = %d, %v", n, err)
	}
	if b, err := mustMember(t, f, "name").Bytes(); err != nil || string(b[:9]) != "swapper/0" {
		t.Errorf("name bytes = %q, %v", b, err)
	}
	if _, err := mustMember(t, f, "list").Uint(); !errors.Is(err, kernel.ErrType) {
		t.Errorf("Uint of a struct: %v", err)
	}
	for _, bad := range []string{"", ".", "a..b", "a[", "a[x]", "a-b", "a->", "->"} {
		if _, err := f.Member(bad); err == nil {
			t.Errorf("path %q accepted", bad)
		}
	}
	if off, err := k.OffsetOf("struct lab_flags", "list.prev"); err != nil || off != 56 {
		t.Errorf("OffsetOf(list.prev) = %d, %v", off, err)
	}
	if off, err := k.OffsetOf("struct lab_flags", "c[3]"); err != nil || off != 19 {
		t.Errorf("OffsetOf(c[3]) = %d, %v", off, err)
	}
	if _, err := k.OffsetOf("struct lab_flags", "comm->x"); err == nil {
		t.Error("OffsetOf through a pointer accepted")
	}
	if _, err := k.OffsetOf("struct lab_flags", "a"); !errors.Is(err, kernel.ErrType) {
		t.Errorf("OffsetOf bitfield: %v", err)
	}
	c, err := k.ContainerOf(entryB+48, "struct lab_flags", "list")
	if err != nil || c.Addr != entryB || mustU(t, c, "refs.counter") != 2 {
		t.Errorf("ContainerOf = %v, %v", c, err)
	}
}

func TestTypeNames(t *testing.T) {
	k := newKernel(t, nil)
	for name, want := range map[string]string{
		"unsigned long":                "long unsigned int",
		"u64":                          "", // absent
		"char *":                       "char *",
		"struct notifier_block *[2]":   "struct notifier_block *[2]",
		"const struct list_head *":     "struct list_head *",
		"atomic_t":                     "atomic_t",
		"void *":                       "void *",
		"int[2][3]":                    "int [2][3]",
		"notifier_fn_t":                "notifier_fn_t",
		"struct notifier_block":        "struct notifier_block",
		"unsigned long long":           "long long unsigned int",
		"struct atomic_notifier_head ": "struct atomic_notifier_head",
	} {
		typ, err := k.Type(name)
		if want == "" {
			if !errors.Is(err, kernel.ErrAbsent) {
				t.Errorf("Type(%q): want ErrAbsent, got %v", name, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("Type(%q): %v", name, err)
			continue
		}
		if got := kernel.TypeString(typ); got != want {
			t.Errorf("Type(%q) = %q, want %q", name, got, want)
		}
	}
	td, _ := k.Type("notifier_fn_t")
	if got := kernel.Declaration(td.(*btf.Typedef).Type, "fn"); got != "int (*fn)(struct notifier_block *, long unsigned int, void *)" {
		t.Errorf("function pointer declaration %q", got)
	}
	if n, err := (&kernel.Kernel{}).Type("unsigned int"); err != nil || kernel.TypeString(n) != "unsigned int" {
		t.Errorf("builtin without TypeSource: %v, %v", n, err)
	}
}

func TestLayout(t *testing.T) {
	k := newKernel(t, nil)
	got, err := k.Layout("struct lab_flags")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"struct lab_flags {",
		"[0:3]    unsigned int b : 5; /* bits 3-7 */",
		"[8:6]    long long unsigned int big : 60; /* bits 6-65 */",
		"[16]     union {",
		"        [16]     long int l; /* size 8 */",
		"        [16]     char c[8]; /* size 8 */",
		"[24]     const char name[16]; /* size 16 */",
		"[40]     enum lab_state st; /* size 4 */",
		"[48]     struct list_head list; /* size 16 */",
		"[64]     char *comm; /* size 8 */",
		"SIZE: 72",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("layout lacks %q:\n%s", want, got)
		}
	}
	got, _ = k.Layout("struct notifier_block")
	if !strings.Contains(got, "[0]      notifier_fn_t notifier_call; /* size 8 */") ||
		!strings.Contains(got, "[8]      struct notifier_block *next;") {
		t.Errorf("notifier_block layout:\n%s", got)
	}
	got, _ = k.Layout("spinlock_t")
	if !strings.HasPrefix(got, "typedef struct spinlock spinlock_t;\nstruct spinlock {\n    [0]      union {\n        [0]      struct raw_spinlock rlock;") {
		t.Errorf("spinlock_t layout:\n%s", got)
	}
	t.Logf("\n%s", got)
}

func collect(k *kernel.Kernel, head uint64, max int) ([]uint64, error) {
	var nodes []uint64
	err := k.ListForEach(head, max, func(n uint64) error { nodes = append(nodes, n); return nil })
	return nodes, err
}

func TestListForEach(t *testing.T) {
	k := newKernel(t, nil)
	nodes, err := collect(k, listHead, 0)
	if err != nil || len(nodes) != 3 || nodes[0] != entryA+48 || nodes[2] != entryC+48 {
		t.Fatalf("walk = %x, %v", nodes, err)
	}
	var refs []uint64
	err = k.ListForEachEntry(listHead, "struct lab_flags", "list", 0, func(o kernel.Object) error {
		refs = append(refs, mustU(t, o, "refs.counter"))
		return nil
	})
	if err != nil || len(refs) != 3 || refs[0] != 1 || refs[2] != 3 {
		t.Fatalf("entries = %v, %v", refs, err)
	}
	// Too long.
	_, err = collect(k, listHead, 2)
	var le *kernel.ListError
	if !errors.As(err, &le) || le.Reason != kernel.ListTooLong || le.At != entryC+48 || le.Count != 2 {
		t.Fatalf("too long: %v", err)
	}
	// Callback errors end the walk; ErrStop ends it quietly.
	boom := errors.New("boom")
	if err := k.ListForEach(listHead, 0, func(uint64) error { return boom }); err != boom {
		t.Fatalf("callback error: %v", err)
	}
	n := 0
	if err := k.ListForEach(listHead, 0, func(uint64) error { n++; return kernel.ErrStop }); err != nil || n != 1 {
		t.Fatalf("ErrStop: %d, %v", n, err)
	}

	set := func(name string, off int, v uint64) func(map[string]*region) {
		return func(rs map[string]*region) { le64(rs[name].data, off, v) }
	}
	for _, c := range []struct {
		name     string
		mutate   func(map[string]*region)
		reason   string
		at, from uint64
		count    int
	}{
		{"cycle", set("entryC", 48, entryB+48), kernel.ListCycle, entryB + 48, entryC + 48, 3},
		{"fault", set("entryB", 48, 0xffff888000990000), kernel.ListFault, 0xffff888000990000, entryB + 48, 2},
		{"null", set("entryA", 48, 0), kernel.ListNull, 0, entryA + 48, 1},
		{"poison", set("entryA", 48, 0xdead000000000100), kernel.ListPoison, 0xdead000000000100, entryA + 48, 1},
		{"misaligned", set("entryA", 48, entryB+48+3), kernel.ListMisaligned, entryB + 48 + 3, entryA + 48, 1},
		{"head fault", func(rs map[string]*region) { delete(rs, "head") }, kernel.ListFault, listHead, listHead, 0},
	} {
		k := newKernel(t, c.mutate)
		nodes, err := collect(k, listHead, 0)
		var le *kernel.ListError
		if !errors.As(err, &le) || le.Reason != c.reason || le.At != c.at || le.From != c.from || le.Count != c.count || len(nodes) != c.count {
			t.Errorf("%s: nodes %x, err %v", c.name, nodes, err)
			continue
		}
		if c.reason == kernel.ListFault && !vmem.IsFault(err) {
			t.Errorf("%s: ListError does not unwrap to a FaultError: %v", c.name, err)
		}
	}
}

func TestSListBreaks(t *testing.T) {
	k := newKernel(t, func(rs map[string]*region) { le64(rs["nb3"].data, 8, nb2) })
	var seen []uint64
	err := k.SListForEach(nb1, 8, 0, func(n uint64) error { seen = append(seen, n); return nil })
	var le *kernel.ListError
	if !errors.As(err, &le) || le.Reason != kernel.ListCycle || le.At != nb2 || le.From != nb3 || len(seen) != 3 {
		t.Fatalf("cycle: %x, %v", seen, err)
	}
	err = k.SListForEach(nb1, 8, 2, func(uint64) error { return nil })
	if !errors.As(err, &le) || le.Reason != kernel.ListTooLong || le.At != nb3 {
		t.Fatalf("too long: %v", err)
	}
	k = newKernel(t, func(rs map[string]*region) { delete(rs, "nb2") })
	err = k.SListForEach(nb1, 8, 0, func(uint64) error { return nil })
	if !errors.As(err, &le) || le.Reason != kernel.ListFault || le.At != nb2 || !vmem.IsFault(err) {
		t.Fatalf("fault: %v", err)
	}
	// A fault reading a member is a FaultError, not ErrAbsent.
	o, _ := k.Object(nb2, "struct notifier_block")
	if _, err := o.Member("priority"); err != nil {
		t.Fatal(err)
	} else if _, err := mustMember(t, o, "priority").Int(); !vmem.IsFault(err) || errors.Is(err, kernel.ErrAbsent) {
		t.Fatalf("read of a missing page: %v", err)
	}
}

func TestPerCPU(t *testing.T) {
	k := newKernel(t, nil)
	if a, err := k.PerCPU(0x100, 1); err != nil || a != 0x20100 {
		t.Fatalf("PerCPU(1) = %#x, %v", a, err)
	}
	if _, err := k.PerCPU(0x100, 2); !errors.Is(err, kernel.ErrRange) {
		t.Fatalf("PerCPU(2): %v", err)
	}
	offs, err := k.ReadPerCPUOffsets()
	if err != nil || len(offs) != 2 || offs[1] != 0x20000 {
		t.Fatalf("ReadPerCPUOffsets = %x, %v", offs, err)
	}
	k2 := &kernel.Kernel{Mem: k.Mem, PerCPUOffsets: []uint64{5}}
	if a, err := k2.PerCPU(0x100, 0); err != nil || a != 0x105 {
		t.Fatalf("PerCPUOffsets: %#x, %v", a, err)
	}
	k3 := &kernel.Kernel{Mem: k.Mem}
	if a, err := k3.PerCPU(0x100, 0); err != nil || a != 0x100 {
		t.Fatalf("UP cpu 0: %#x, %v", a, err)
	}
	if _, err := k3.PerCPU(0x100, 1); !errors.Is(err, kernel.ErrAbsent) {
		t.Fatalf("UP cpu 1: %v", err)
	}
}

func TestConcurrentUse(t *testing.T) {
	k := newKernel(t, nil)
	done := make(chan error)
	for g := 0; g < 4; g++ {
		go func() {
			var err error
			for i := 0; i < 50 && err == nil; i++ {
				var o kernel.Object
				if o, err = k.Global("panic_notifier_list", "struct atomic_notifier_head"); err == nil {
					_, err = o.Member("head->next->priority")
				}
				if err == nil {
					_, err = k.Layout("struct lab_flags")
				}
			}
			done <- err
		}()
	}
	for g := 0; g < 4; g++ {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}
