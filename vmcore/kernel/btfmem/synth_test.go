package btfmem_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/cilium/ebpf/btf"

	"github.com/panicscope/panicscope/vmcore/kernel/btfmem"
)

// everyKind is a small graph with every kind btfmem decodes, decl tags on
// each kind that takes them, a cycle and bitfields.
func everyKind() []btf.Type {
	i32 := &btf.Int{Name: "int", Size: 4, Encoding: btf.Signed}
	u8 := &btf.Int{Name: "unsigned char", Size: 1}
	boolT := &btf.Int{Name: "_Bool", Size: 1, Encoding: btf.Bool}
	node := &btf.Struct{Name: "node", Size: 24}
	node.Members = []btf.Member{
		{Name: "next", Type: &btf.Pointer{Target: node}, Tags: []string{"rcu"}},
		{Name: "flags", Type: u8, Offset: 64, BitfieldSize: 3},
		{Name: "more", Type: u8, Offset: 67, BitfieldSize: 5},
		{Name: "vals", Type: &btf.Array{Index: i32, Type: &btf.Volatile{Type: &btf.Const{Type: i32}}, Nelems: 3}, Offset: 96},
	}
	node.Tags = []string{"whole"}
	proto := &btf.FuncProto{Return: i32, Params: []btf.FuncParam{{Name: "n", Type: &btf.Pointer{Target: node}}, {Name: "x", Type: &btf.Restrict{Type: &btf.Pointer{Target: u8}}}}}
	fn := &btf.Func{Name: "walk", Type: proto, Linkage: btf.GlobalFunc, Tags: []string{"kfunc"}, ParamTags: [][]string{nil, {"nullable"}}}
	v := &btf.Var{Name: "head", Type: node, Linkage: btf.GlobalVar, Tags: []string{"percpu"}}
	return []btf.Type{
		node, fn, v,
		&btf.Union{Name: "either", Size: 8, Members: []btf.Member{{Name: "i", Type: i32}, {Name: "p", Type: &btf.Pointer{Target: &btf.Void{}}}}},
		&btf.Enum{Name: "state", Size: 4, Signed: true, Values: []btf.EnumValue{{Name: "NEG", Value: 0xffffffffffffffff}, {Name: "ONE", Value: 1}}},
		&btf.Enum{Name: "wide", Size: 8, Values: []btf.EnumValue{{Name: "BIG", Value: 1 << 40}}},
		&btf.Fwd{Name: "opaque_u", Kind: btf.FwdUnion},
		&btf.Typedef{Name: "node_t", Type: node, Tags: []string{"alias"}},
		&btf.Float{Name: "double", Size: 8},
		&btf.TypeTag{Value: "user", Type: u8},
		&btf.Datasec{Name: ".data..percpu", Size: 24, Vars: []btf.VarSecinfo{{Type: v, Offset: 0, Size: 24}}},
		boolT,
	}
}

func TestSameAsCiliumEveryKind(t *testing.T) {
	for _, bo := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
		b, err := btf.NewBuilder(everyKind(), nil)
		if err != nil {
			t.Fatal(err)
		}
		blob, err := b.Marshal(nil, &btf.MarshalOptions{Order: bo})
		if err != nil {
			t.Fatal(err)
		}
		ours, err := btfmem.Parse(blob)
		if err != nil {
			t.Fatal(err)
		}
		theirs, err := btf.LoadSpecFromReader(bytes.NewReader(blob))
		if err != nil {
			t.Fatal(err)
		}
		c := comparer{seen: map[[2]btf.Type]bool{}}
		if n := compareAll(t, &c, ours, theirs, 1); n < 20 {
			t.Fatalf("%v: %d types", bo, n)
		}
		// The tags came through (the comparison alone would pass if both
		// lost them).
		fn := ours.AnyTypesByName("walk")
		if len(fn) != 1 || len(fn[0].(*btf.Func).ParamTags) != 2 || fn[0].(*btf.Func).ParamTags[1][0] != "nullable" {
			t.Fatalf("walk: %v", fn)
		}
		node := ours.AnyTypesByName("node")[0].(*btf.Struct)
		if node.Members[0].Tags[0] != "rcu" || node.Tags[0] != "whole" || node.Members[2].BitfieldSize != 5 || node.Members[2].Offset != 67 {
			t.Fatalf("node: %+v", node)
		}
	}
}

// rawBlob assembles a little-endian BTF blob from type records (u32 words)
// and a string table.
func rawBlob(words []uint32, strs string) []byte {
	le := binary.LittleEndian
	var types []byte
	for _, w := range words {
		types = le.AppendUint32(types, w)
	}
	hdr := []byte{0x9f, 0xeb, 1, 0}
	for _, v := range []uint32{24, 0, uint32(len(types)), uint32(len(types)), uint32(len(strs))} {
		hdr = le.AppendUint32(hdr, v)
	}
	return append(append(hdr, types...), strs...)
}

// Bitfields the way BTF had them before the kind flag (btf_int offset and
// bits on an integer type of its own) decode as cilium decodes them.
func TestLegacyBitfields(t *testing.T) {
	const strs = "\x00int\x00lb\x00a\x00b\x00c\x00"
	words := []uint32{
		1, kindInt << 24, 4, 1<<24 | 32, // [1] int
		1, kindInt << 24, 4, 2<<16 | 5, // [2] int, offset 2, 5 bits
		1, kindInt << 24, 4, 7, // [3] int, 7 bits
		5, kindStruct<<24 | 3, 8, // [4] struct lb, no kind flag
		8, 2, 0, // a: int:5 at bit 0 (+2)
		10, 3, 8, // b: int:7 at bit 8
		12, 1, 32, // c: int at bit 32
	}
	blob := rawBlob(words, strs)
	ours, err := btfmem.Parse(blob)
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := btf.LoadSpecFromReader(bytes.NewReader(blob))
	if err != nil {
		t.Fatal(err)
	}
	c := comparer{seen: map[[2]btf.Type]bool{}}
	compareAll(t, &c, ours, theirs, 1)
	lb := ours.AnyTypesByName("lb")[0].(*btf.Struct)
	if m := lb.Members; m[0].Offset != 2 || m[0].BitfieldSize != 5 || m[1].BitfieldSize != 7 || m[2].BitfieldSize != 0 {
		t.Fatalf("lb: %+v", m)
	}
}

const (
	kindInt    = 1
	kindStruct = 4
)

// FuzzSameAsCilium: btfmem never panics and decodes whole every blob it
// accepts; cilium accepts it too (btfmem ignores header fields past
// str_len and takes a name offset into the middle of a string as that
// string's tail, where cilium refuses both) and decodes the same types.
func FuzzSameAsCilium(f *testing.F) {
	b, err := btf.NewBuilder(everyKind(), nil)
	if err != nil {
		f.Fatal(err)
	}
	blob, err := b.Marshal(nil, &btf.MarshalOptions{Order: binary.LittleEndian})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(blob)
	f.Add(rawBlob([]uint32{1, kindInt << 24, 4, 7, 5, kindStruct<<24 | 1, 8, 8, 1, 0}, "\x00int\x00lb\x00a\x00"))
	f.Fuzz(func(t *testing.T, blob []byte) {
		if len(blob) > 64<<10 {
			return
		}
		ours, err := btfmem.Parse(blob)
		if err != nil {
			return
		}
		for range ours.All() { // decodes every type (decl tags are errors)
		}
		theirs, err := btf.LoadSpecFromReader(bytes.NewReader(blob))
		if err != nil {
			if !strings.Contains(err.Error(), "header") && !strings.Contains(err.Error(), "not the beginning of a string") {
				t.Fatalf("cilium load: %v", err)
			}
			return
		}
		for id := btf.TypeID(1); ; id++ {
			_, err := theirs.TypeByID(id)
			if errors.Is(err, btf.ErrNotFound) {
				break
			}
			if err != nil {
				if strings.Contains(err.Error(), "not the beginning of a string") {
					return // btfmem names the string's tail
				}
				t.Fatalf("cilium: %v", err)
			}
		}
		c := comparer{seen: map[[2]btf.Type]bool{}}
		compareAll(t, &c, ours, theirs, 1)
	})
}

// A function is found by name, and wins over a forward declaration of the
// same name but not over a definition (functions are indexed apart).
func TestFunctionsByName(t *testing.T) {
	i32 := &btf.Int{Name: "int", Size: 4, Encoding: btf.Signed}
	proto := &btf.FuncProto{Return: i32}
	types := []btf.Type{
		&btf.Func{Name: "lonely", Type: proto, Linkage: btf.GlobalFunc},
		&btf.Fwd{Name: "shadowed", Kind: btf.FwdStruct},
		&btf.Func{Name: "shadowed", Type: proto, Linkage: btf.StaticFunc},
		&btf.Func{Name: "defined", Type: proto, Linkage: btf.StaticFunc},
		&btf.Struct{Name: "defined", Size: 4, Members: []btf.Member{{Name: "x", Type: i32}}},
	}
	b, err := btf.NewBuilder(types, nil)
	if err != nil {
		t.Fatal(err)
	}
	blob, err := b.Marshal(nil, &btf.MarshalOptions{Order: binary.LittleEndian})
	if err != nil {
		t.Fatal(err)
	}
	spec, err := btfmem.Parse(blob)
	if err != nil {
		t.Fatal(err)
	}
	ts := btfmem.NewTypes(spec)
	for name, want := range map[string]string{
		"lonely": "*btf.Func", "shadowed": "*btf.Func", "struct shadowed": "*btf.Fwd", "defined": "*btf.Struct",
	} {
		typ, err := ts.AnyType(name)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if got := fmt.Sprintf("%T", typ); got != want {
			t.Errorf("%s: %s, want %s", name, got, want)
		}
	}
	if all := spec.AnyTypesByName("defined"); len(all) != 2 {
		t.Errorf("defined: %d types, want the function and the struct", len(all))
	}
}
