package btfmem

import (
	"encoding/binary"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cilium/ebpf/btf"

	"github.com/panicscope/panicscope/vmcore/vmem"
)

func baseTypes() (types []btf.Type, list *btf.Struct) {
	intT := &btf.Int{Name: "int", Size: 4, Encoding: btf.Signed}
	list = &btf.Struct{Name: "list_head", Size: 16}
	lp := &btf.Pointer{Target: list}
	list.Members = []btf.Member{{Name: "next", Type: lp}, {Name: "prev", Type: lp, Offset: 64}}
	atomic := &btf.Typedef{Name: "atomic_t", Type: &btf.Struct{Size: 4, Members: []btf.Member{{Name: "counter", Type: intT}}}}
	// A struct and a typedef of the same name, and two structs of one name.
	tdUnion := &btf.Union{Name: "both", Size: 8}
	tdBoth := &btf.Typedef{Name: "both", Type: list}
	dup1 := &btf.Struct{Name: "dup", Size: 4, Members: []btf.Member{{Name: "x", Type: intT}}}
	dup2 := &btf.Struct{Name: "dup", Size: 8, Members: []btf.Member{{Name: "y", Type: intT}}}
	fwd := &btf.Fwd{Name: "opaque", Kind: btf.FwdStruct}
	return []btf.Type{list, atomic, tdBoth, tdUnion, dup1, dup2, fwd}, list
}

func marshal(t testing.TB, types []btf.Type) []byte {
	b, err := btf.NewBuilder(types, nil)
	if err != nil {
		t.Fatal(err)
	}
	blob, err := b.Marshal(nil, &btf.MarshalOptions{Order: binary.LittleEndian})
	if err != nil {
		t.Fatal(err)
	}
	return blob
}

const blobAddr = 0xffffffff824c1b88

func TestLoadFromMemory(t *testing.T) {
	types, _ := baseTypes()
	blob := marshal(t, types)
	var mem vmem.Fake
	mem.Map(blobAddr, blob)
	spec, err := Load(&mem, blobAddr, blobAddr+uint64(len(blob)))
	if err != nil {
		t.Fatal(err)
	}
	ts := NewTypes(spec)
	for name, want := range map[string]string{
		"struct list_head": "*btf.Struct list_head",
		"list_head":        "*btf.Struct list_head",
		"atomic_t":         "*btf.Typedef atomic_t",
		"both":             "*btf.Union both", // union beats typedef
		"union both":       "*btf.Union both",
		"int":              "*btf.Int int",
		"dup":              "*btf.Struct dup",
		"struct opaque":    "*btf.Fwd opaque",
	} {
		typ, err := ts.AnyType(name)
		if err != nil {
			t.Errorf("AnyType(%q): %v", name, err)
			continue
		}
		if got := typeLabel(typ); got != want {
			t.Errorf("AnyType(%q) = %s, want %s", name, got, want)
		}
	}
	if d, _ := ts.AnyType("dup"); d.(*btf.Struct).Members[0].Name != "x" {
		t.Error("duplicate struct name: not the first definition")
	}
	for _, name := range []string{"struct atomic_t", "enum list_head", "nope", "", "struct "} {
		if _, err := ts.AnyType(name); !errors.Is(err, ErrNotFound) {
			t.Errorf("AnyType(%q): want ErrNotFound, got %v", name, err)
		}
	}
}

func typeLabel(t btf.Type) string {
	switch t.(type) {
	case *btf.Struct:
		return "*btf.Struct " + t.TypeName()
	case *btf.Union:
		return "*btf.Union " + t.TypeName()
	case *btf.Typedef:
		return "*btf.Typedef " + t.TypeName()
	case *btf.Int:
		return "*btf.Int " + t.TypeName()
	case *btf.Fwd:
		return "*btf.Fwd " + t.TypeName()
	}
	return "?"
}

func TestLoadErrors(t *testing.T) {
	types, _ := baseTypes()
	blob := marshal(t, types)
	var mem vmem.Fake
	mem.Map(blobAddr, blob[:40]) // the rest of the blob is not in the dump
	if _, err := Load(&mem, blobAddr, blobAddr+uint64(len(blob))); !vmem.IsFault(err) {
		t.Errorf("partial blob: want a fault, got %v", err)
	}
	for _, r := range [][2]uint64{{blobAddr, blobAddr}, {blobAddr + 1, blobAddr}, {blobAddr, blobAddr + MaxBlob + 1}} {
		if _, err := Load(&mem, r[0], r[1]); !errors.Is(err, ErrBadBTF) {
			t.Errorf("range %#x-%#x: want ErrBadBTF, got %v", r[0], r[1], err)
		}
	}
	corrupt := func(name string, f func(b []byte) []byte) {
		b := f(append([]byte(nil), blob...))
		if _, err := Parse(b); !errors.Is(err, ErrBadBTF) {
			t.Errorf("%s: want ErrBadBTF, got %v", name, err)
		}
	}
	corrupt("magic", func(b []byte) []byte { b[0] = 0; return b })
	corrupt("short", func(b []byte) []byte { return b[:10] })
	corrupt("truncated types", func(b []byte) []byte { return b[:30] })
	corrupt("type len", func(b []byte) []byte { binary.LittleEndian.PutUint32(b[12:], 1<<30); return b })
	corrupt("kind", func(b []byte) []byte { b[24+7] = 0x1f; return b })
	corrupt("reference", func(b []byte) []byte {
		// The first member of list_head (type 1) refers to type 999.
		binary.LittleEndian.PutUint32(b[24+12+4:], 999)
		return b
	})
	corrupt("string", func(b []byte) []byte { binary.LittleEndian.PutUint32(b[24:], 1<<30); return b })
	// Every single-byte corruption is an error or a Spec, never a panic.
	for i := range blob {
		b := append([]byte(nil), blob...)
		b[i] ^= 0xa5
		_, _ = Parse(b)
	}
}

// Types nest as deep as a hostile blob likes: decoding walks them with a
// queue, not recursion. A chain of 50k typedefs (the outermost first, so
// decoding ID 1 walks the whole chain) decodes with the stack capped at 16
// MiB, which a recursive decoder (cilium's takes ~2.5 KiB a level) would
// overflow, killing the test binary.
func TestDeepNesting(t *testing.T) {
	const depth = 50_000
	var typ btf.Type = &btf.Int{Name: "int", Size: 4}
	types := make([]btf.Type, 0, depth)
	for i := 0; i < depth; i++ {
		typ = &btf.Typedef{Name: "t" + strconv.Itoa(i), Type: typ}
		types = append(types, typ)
	}
	slices.Reverse(types)
	blob := marshal(t, types) // cilium's encoder recurses: before the cap
	defer debug.SetMaxStack(debug.SetMaxStack(16 << 20))
	start := time.Now()
	spec, err := Parse(blob)
	if err != nil {
		t.Fatal(err)
	}
	outer, err := spec.TypeByID(1)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for typ = outer; ; n++ {
		td, ok := typ.(*btf.Typedef)
		if !ok {
			break
		}
		typ = td.Type
	}
	if n != depth || typ.TypeName() != "int" {
		t.Fatalf("chain of %d typedefs ending in %v", n, typ)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("took %v", d)
	}
}

// splitBlob hand-assembles module BTF on top of base: struct mod_thing {
// struct list_head list; atomic_t refs; } referring to base type IDs, with
// its own string table continuing the base's.
func splitBlob(t testing.TB, base *Spec, baseBlob []byte) []byte {
	listID, err := base.TypeID(mustType(t, base, "list_head"))
	if err != nil {
		t.Fatal(err)
	}
	atomicID, err := base.TypeID(mustType(t, base, "atomic_t"))
	if err != nil {
		t.Fatal(err)
	}
	baseStrLen := binary.LittleEndian.Uint32(baseBlob[20:])
	strs := []byte("mod_thing\x00list\x00refs\x00")
	name, list, refs := baseStrLen, baseStrLen+10, baseStrLen+15
	le := binary.LittleEndian
	var types []byte
	types = le.AppendUint32(types, name)
	types = le.AppendUint32(types, kindStruct<<24|2)
	types = le.AppendUint32(types, 24)
	for _, m := range [][3]uint32{{list, uint32(listID), 0}, {refs, uint32(atomicID), 128}} {
		for _, v := range m {
			types = le.AppendUint32(types, v)
		}
	}
	hdr := []byte{0x9f, 0xeb, 1, 0}
	for _, v := range []uint32{24, 0, uint32(len(types)), uint32(len(types)), uint32(len(strs))} {
		hdr = le.AppendUint32(hdr, v)
	}
	return append(append(hdr, types...), strs...)
}

func mustType(t testing.TB, s *Spec, name string) btf.Type {
	types := s.AnyTypesByName(name)
	if len(types) != 1 {
		t.Fatalf("%s: %d types", name, len(types))
	}
	return types[0]
}

func TestLoadSplit(t *testing.T) {
	types, _ := baseTypes()
	baseBlob := marshal(t, types)
	base, err := Parse(baseBlob)
	if err != nil {
		t.Fatal(err)
	}
	split := splitBlob(t, base, baseBlob)
	var mem vmem.Fake
	const addr = 0xffffffffc0559000
	mem.Map(addr, split)
	mod, err := LoadSplit(&mem, addr, uint64(len(split)), base)
	if err != nil {
		t.Fatal(err)
	}
	ts := NewTypes(base, mod)
	typ, err := ts.AnyType("struct mod_thing")
	if err != nil {
		t.Fatal(err)
	}
	s := typ.(*btf.Struct)
	if len(s.Members) != 2 || s.Members[0].Type.TypeName() != "list_head" || s.Members[1].Type.TypeName() != "atomic_t" || s.Members[1].Offset != 128 {
		t.Fatalf("mod_thing = %v", s.Members)
	}
	if _, err := ts.AnyType("list_head"); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadSplit(&mem, addr, 0, base); !errors.Is(err, ErrBadBTF) {
		t.Fatalf("empty split: %v", err)
	}
	// A split reference past its own types is refused.
	bad := append([]byte(nil), split...)
	binary.LittleEndian.PutUint32(bad[24+12+4:], 5000)
	if _, err := ParseSplit(bad, base); !errors.Is(err, ErrBadBTF) {
		t.Fatalf("bad split reference: %v", err)
	}
}

// FuzzBTFBridge: a fuzzed blob through Parse (and as split BTF on a fixed
// base), then a few lookups. No panic, bounded time.
func FuzzBTFBridge(f *testing.F) {
	types, _ := baseTypes()
	baseBlob := marshal(f, types)
	base, err := Parse(baseBlob)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(baseBlob)
	f.Add(splitBlob(f, base, baseBlob))
	f.Add(baseBlob[:24])
	f.Fuzz(func(t *testing.T, blob []byte) {
		if len(blob) > 1<<20 {
			return
		}
		var mem vmem.Fake
		mem.Map(blobAddr, blob)
		if spec, err := Load(&mem, blobAddr, blobAddr+uint64(len(blob))); err == nil {
			lookups(NewTypes(spec))
		}
		if mod, err := ParseSplit(blob, base); err == nil {
			lookups(NewTypes(base, mod))
		}
	})
}

func lookups(ts *Types) {
	for _, n := range []string{"list_head", "struct mod_thing", "atomic_t", "int", "union both", "dup"} {
		typ, err := ts.AnyType(n)
		if err == nil {
			_, _ = btf.Sizeof(typ)
			if s, ok := typ.(*btf.Struct); ok {
				for _, m := range s.Members {
					_, _ = btf.Sizeof(m.Type)
				}
			}
		}
	}
}

// A blob large enough to be read in parallel pieces reads whole, and a
// missing page in the middle is reported as the first missing page.
func TestReadPieces(t *testing.T) {
	const size = 1<<20 + 123
	blob := make([]byte, size)
	for i := range blob {
		blob[i] = byte(i * 7)
	}
	var mem vmem.Fake
	mem.Map(blobAddr, blob)
	got, err := Read(&mem, blobAddr, blobAddr+size)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(blob) {
		t.Fatal("pieces read back differ")
	}
	// The same bytes with a hole of two pages at 600 KiB (page-aligned
	// from blobAddr's page).
	const start = uint64(blobAddr)
	hole := (start&^4095 + 600<<10) - start
	var holed vmem.Fake
	holed.Map(start, blob[:hole])
	holed.Map(start+hole+8192, blob[hole+8192:])
	_, err = Read(&holed, start, start+size)
	var fe *vmem.FaultError
	if !errors.As(err, &fe) {
		t.Fatalf("want a fault, got %v", err)
	}
	if want := fmt.Sprintf("%#x", start+hole); !strings.Contains(err.Error(), want) {
		t.Fatalf("fault %v does not name the first missing page %s", err, want)
	}
}

// Lookups from many goroutines, in the base and in split BTF on top of it,
// decode each type once (run under -race in CI).
func TestConcurrentLookups(t *testing.T) {
	types, _ := baseTypes()
	baseBlob := marshal(t, types)
	base, err := Parse(baseBlob)
	if err != nil {
		t.Fatal(err)
	}
	mod, err := ParseSplit(splitBlob(t, base, baseBlob), base)
	if err != nil {
		t.Fatal(err)
	}
	ts := NewTypes(base, mod)
	names := []string{"struct mod_thing", "list_head", "atomic_t", "dup", "both", "struct opaque"}
	got := make([][]btf.Type, 8)
	var wg sync.WaitGroup
	for g := range got {
		wg.Go(func() {
			for i := range names {
				n := names[(i+g)%len(names)]
				typ, err := ts.AnyType(n)
				if err != nil {
					t.Error(err)
					return
				}
				got[g] = append(got[g], typ)
			}
			for id := btf.TypeID(1); id < 12; id++ {
				_, _ = mod.TypeByID(id)
			}
		})
	}
	wg.Wait()
	want := map[string]btf.Type{}
	for g := range got {
		for i, typ := range got[g] {
			n := names[(i+g)%len(names)]
			if w, ok := want[n]; ok && w != typ {
				t.Fatalf("%s decoded twice", n)
			}
			want[n] = typ
		}
	}
}

// Only a C identifier can name a function: other names never build the
// function index.
func TestFunctionIndexOnlyForIdentifiers(t *testing.T) {
	for name, want := range map[string]bool{"schedule": true, "_x1": true, "1x": false, "unsigned long": false, "a-b": false, "": false} {
		if isIdentifier(name) != want {
			t.Errorf("isIdentifier(%q) = %v", name, !want)
		}
	}
	types, _ := baseTypes()
	spec, err := Parse(marshal(t, types))
	if err != nil {
		t.Fatal(err)
	}
	ts := NewTypes(spec)
	if _, err := ts.AnyType("long unsigned int"); !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
	if spec.funcs != nil {
		t.Fatal("a name with spaces built the function index")
	}
	if _, err := ts.AnyType("no_such_name"); !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
	if spec.funcs == nil {
		t.Fatal("an identifier found nothing without looking at functions")
	}
}
