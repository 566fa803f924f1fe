// Package dwarftypes reads C types from a vmlinux with DWARF debug info
// (--vmlinux, e.g. Debian's linux-image-*-dbg) and converts them to
// github.com/cilium/ebpf/btf values, so the object layer (package kernel)
// works the same whether types come from the dump's BTF or from DWARF.
//
// The vmlinux must be the dumped kernel: Open checks its GNU build ID against
// the one the dump records (VMCOREINFO BUILD-ID) and refuses a different one
// with a *BuildIDMismatchError. DWARF is decoded lazily: a name index of
// top-level type DIEs is built one compilation unit at a time until the name
// asked for is found, and godwarf.ReadType decodes only the types reached.
package dwarftypes

import (
	"debug/dwarf"
	"debug/elf"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/cilium/ebpf/btf"
	"github.com/go-delve/delve/pkg/dwarf/godwarf"
)

var (
	// ErrNotFound is wrapped when no type has the name asked for.
	ErrNotFound = errors.New("no such type in DWARF")
	// ErrNoBuildID is returned when a build ID is expected but the ELF file
	// has no NT_GNU_BUILD_ID note.
	ErrNoBuildID = errors.New("vmlinux has no GNU build ID note")
)

// BuildIDMismatchError says the vmlinux is not the dumped kernel.
type BuildIDMismatchError struct {
	Path string
	Want string // from the dump
	Got  string // from the file
}

func (e *BuildIDMismatchError) Error() string {
	return fmt.Sprintf("%s: build ID %s, but the dump's kernel is %s", e.Path, e.Got, e.Want)
}

// Types is a TypeSource over a vmlinux's DWARF. Safe for concurrent use.
type Types struct {
	path    string
	f       *elf.File
	d       *dwarf.Data
	buildID string

	mu      sync.Mutex
	gcache  map[dwarf.Offset]godwarf.Type // godwarf.ReadType's cache
	conv    map[godwarf.Type]btf.Type
	index   map[string]dwarf.Offset // "struct x", "union x", "enum x", "typedef x", "base x" -> first definition
	scan    *dwarf.Reader
	scanned bool
	intType *btf.Int
}

// Open opens an ELF vmlinux. When wantBuildID (hex) is not empty the file's
// GNU build ID must equal it.
func Open(path, wantBuildID string) (*Types, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, err
	}
	t, err := newTypes(path, f, wantBuildID)
	if err != nil {
		f.Close()
		return nil, err
	}
	return t, nil
}

// NewFromReader is Open for an ELF image in r; name is used in messages.
func NewFromReader(r io.ReaderAt, name, wantBuildID string) (t *Types, err error) {
	defer recoverInto(&err, name)
	f, err := elf.NewFile(r)
	if err != nil {
		return nil, err
	}
	return newTypes(name, f, wantBuildID)
}

// recoverInto turns a panic of the ELF or DWARF decoders on a malformed file
// into an error.
func recoverInto(err *error, name string) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("%s: malformed debug info: %v", name, r)
	}
}

func newTypes(path string, f *elf.File, wantBuildID string) (t *Types, err error) {
	defer recoverInto(&err, path)
	id, err := BuildID(f)
	if err != nil && wantBuildID != "" {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if want := strings.ToLower(strings.TrimSpace(wantBuildID)); want != "" && want != id {
		return nil, &BuildIDMismatchError{Path: path, Want: want, Got: id}
	}
	d, err := f.DWARF()
	if err != nil {
		return nil, fmt.Errorf("%s: reading DWARF: %w", path, err)
	}
	return &Types{
		path: path, f: f, d: d, buildID: id,
		gcache:  make(map[dwarf.Offset]godwarf.Type),
		conv:    make(map[godwarf.Type]btf.Type),
		index:   make(map[string]dwarf.Offset),
		scan:    d.Reader(),
		intType: &btf.Int{Name: "int", Size: 4, Encoding: btf.Signed},
	}, nil
}

// Close releases the file.
func (t *Types) Close() error { return t.f.Close() }

// BuildID is the file's GNU build ID, hex ("" when it has none).
func (t *Types) BuildID() string { return t.buildID }

// BuildID reads the NT_GNU_BUILD_ID note of an ELF file, hex.
func BuildID(f *elf.File) (string, error) {
	for _, s := range f.Sections {
		if s.Type != elf.SHT_NOTE {
			continue
		}
		data, err := s.Data()
		if err != nil {
			continue
		}
		if id, ok := findBuildID(data, f.ByteOrder); ok {
			return id, nil
		}
	}
	for _, p := range f.Progs {
		if p.Type != elf.PT_NOTE || p.Filesz > 1<<20 {
			continue
		}
		data := make([]byte, p.Filesz)
		if _, err := p.ReadAt(data, 0); err != nil {
			continue
		}
		if id, ok := findBuildID(data, f.ByteOrder); ok {
			return id, nil
		}
	}
	return "", ErrNoBuildID
}

const ntGNUBuildID = 3 // NT_GNU_BUILD_ID

// findBuildID walks ELF notes (namesz, descsz, type, name, desc; 4-aligned).
func findBuildID(b []byte, bo binary.ByteOrder) (string, bool) {
	for len(b) >= 12 {
		namesz, descsz, typ := uint64(bo.Uint32(b)), uint64(bo.Uint32(b[4:])), bo.Uint32(b[8:])
		b = b[12:]
		nameEnd := (namesz + 3) &^ 3
		descEnd := nameEnd + (descsz+3)&^3
		if descEnd > uint64(len(b)) {
			return "", false
		}
		if typ == ntGNUBuildID && namesz == 4 && string(b[:3]) == "GNU" {
			return hex.EncodeToString(b[nameEnd : nameEnd+descsz]), true
		}
		b = b[descEnd:]
	}
	return "", false
}

// AnyType resolves "struct X", "union X", "enum X" or a bare name (struct,
// union, typedef, enum, then base type), as btfmem.Types does.
func (t *Types) AnyType(name string) (typ btf.Type, err error) {
	defer recoverInto(&err, t.path)
	name = strings.Join(strings.Fields(name), " ")
	var keys []string
	switch {
	case strings.HasPrefix(name, "struct "), strings.HasPrefix(name, "union "), strings.HasPrefix(name, "enum "):
		keys = []string{name}
	case name == "":
		return nil, fmt.Errorf("empty type name: %w", ErrNotFound)
	default:
		keys = []string{"struct " + name, "union " + name, "typedef " + name, "enum " + name, "base " + name}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for {
		for _, k := range keys {
			if off, ok := t.index[k]; ok {
				return t.load(off)
			}
		}
		if t.scanned {
			return nil, fmt.Errorf("%s: %w", name, ErrNotFound)
		}
		if err := t.scanUnit(); err != nil {
			return nil, err
		}
	}
}

// scanUnit indexes the named top-level type definitions of the next
// compilation unit.
func (t *Types) scanUnit() error {
	r := t.scan
	for {
		e, err := r.Next()
		if err != nil {
			t.scanned = true
			return fmt.Errorf("%s: DWARF: %w", t.path, err)
		}
		if e == nil {
			t.scanned = true
			return nil
		}
		switch e.Tag {
		case dwarf.TagCompileUnit, dwarf.TagPartialUnit:
			continue // into its children
		case 0:
			return nil // end of a unit's children
		}
		prefix := ""
		switch e.Tag {
		case dwarf.TagStructType:
			prefix = "struct "
		case dwarf.TagUnionType:
			prefix = "union "
		case dwarf.TagEnumerationType:
			prefix = "enum "
		case dwarf.TagTypedef:
			prefix = "typedef "
		case dwarf.TagBaseType:
			prefix = "base "
		}
		if prefix != "" && e.Val(dwarf.AttrDeclaration) == nil {
			if n, _ := e.Val(dwarf.AttrName).(string); n != "" {
				if _, dup := t.index[prefix+n]; !dup {
					t.index[prefix+n] = e.Offset
				}
			}
		}
		if e.Children {
			r.SkipChildren()
		}
	}
}

// load decodes the type at off and converts it.
func (t *Types) load(off dwarf.Offset) (btf.Type, error) {
	gt, err := godwarf.ReadType(t.d, 0, off, t.gcache)
	if err != nil {
		return nil, fmt.Errorf("%s: DWARF type at %#x: %w", t.path, off, err)
	}
	return t.convert(gt, 0)
}

// maxConvDepth bounds the conversion's recursion (pointers cut cycles).
const maxConvDepth = 2000

func (t *Types) convert(gt godwarf.Type, depth int) (btf.Type, error) {
	if gt == nil {
		return &btf.Void{}, nil
	}
	if bt, ok := t.conv[gt]; ok {
		return bt, nil
	}
	if depth > maxConvDepth {
		return nil, fmt.Errorf("%s: types nest deeper than %d", t.path, maxConvDepth)
	}
	sub := func(g godwarf.Type) (btf.Type, error) { return t.convert(g, depth+1) }
	var out btf.Type
	switch g := gt.(type) {
	case *godwarf.VoidType, *godwarf.UnspecifiedType, *godwarf.DotDotDotType:
		out = &btf.Void{}
	case *godwarf.IntType:
		out = &btf.Int{Name: g.Name, Size: uint32(g.ByteSize), Encoding: btf.Signed}
	case *godwarf.CharType:
		out = &btf.Int{Name: g.Name, Size: uint32(g.ByteSize), Encoding: btf.Signed}
	case *godwarf.UintType:
		out = &btf.Int{Name: g.Name, Size: uint32(g.ByteSize), Encoding: btf.Unsigned}
	case *godwarf.UcharType:
		out = &btf.Int{Name: g.Name, Size: uint32(g.ByteSize), Encoding: btf.Unsigned}
	case *godwarf.BoolType:
		out = &btf.Int{Name: g.Name, Size: uint32(g.ByteSize), Encoding: btf.Bool}
	case *godwarf.AddrType:
		out = &btf.Int{Name: g.Name, Size: uint32(g.ByteSize), Encoding: btf.Unsigned}
	case *godwarf.FloatType:
		out = &btf.Float{Name: g.Name, Size: uint32(g.ByteSize)}
	case *godwarf.ComplexType:
		out = &btf.Float{Name: g.Name, Size: uint32(g.ByteSize)}
	case *godwarf.PtrType:
		p := &btf.Pointer{}
		t.conv[gt] = p
		target, err := sub(g.Type)
		if err != nil {
			return nil, err
		}
		p.Target = target
		return p, nil
	case *godwarf.TypedefType:
		td := &btf.Typedef{Name: g.Name}
		t.conv[gt] = td
		target, err := sub(g.Type)
		if err != nil {
			return nil, err
		}
		td.Type = target
		return td, nil
	case *godwarf.QualType:
		inner, err := sub(g.Type)
		if err != nil {
			return nil, err
		}
		switch g.Qual {
		case "const":
			out = &btf.Const{Type: inner}
		case "volatile":
			out = &btf.Volatile{Type: inner}
		case "restrict":
			out = &btf.Restrict{Type: inner}
		default:
			out = inner
		}
	case *godwarf.ArrayType:
		a := &btf.Array{Index: t.intType}
		t.conv[gt] = a
		elem, err := sub(g.Type)
		if err != nil {
			return nil, err
		}
		a.Type = elem
		if g.Count > 0 && g.Count < 1<<32 {
			a.Nelems = uint32(g.Count)
		}
		return a, nil
	case *godwarf.EnumType:
		e := &btf.Enum{Name: g.EnumName, Size: uint32(g.ByteSize)}
		for _, v := range g.Val {
			if v.Val < 0 {
				e.Signed = true
			}
			e.Values = append(e.Values, btf.EnumValue{Name: v.Name, Value: uint64(v.Val)})
		}
		out = e
	case *godwarf.FuncType:
		fp := &btf.FuncProto{}
		t.conv[gt] = fp
		ret, err := sub(g.ReturnType)
		if err != nil {
			return nil, err
		}
		fp.Return = ret
		for _, p := range g.ParamType {
			pt, err := sub(p)
			if err != nil {
				return nil, err
			}
			fp.Params = append(fp.Params, btf.FuncParam{Type: pt})
		}
		return fp, nil
	case *godwarf.StructType:
		return t.convertStruct(g, depth)
	default:
		// Types C does not have (Go slices, maps, ...).
		out = &btf.Int{Name: gt.String(), Size: uint32(max(gt.Size(), 0))}
	}
	t.conv[gt] = out
	return out, nil
}

func (t *Types) convertStruct(g *godwarf.StructType, depth int) (btf.Type, error) {
	if g.Incomplete {
		kind := btf.FwdStruct
		if g.Kind == "union" {
			kind = btf.FwdUnion
		}
		fwd := &btf.Fwd{Name: g.StructName, Kind: kind}
		t.conv[g] = fwd
		return fwd, nil
	}
	var members *[]btf.Member
	size := uint32(max(g.ByteSize, 0))
	if g.Kind == "union" {
		u := &btf.Union{Name: g.StructName, Size: size}
		t.conv[g], members = u, &u.Members
	} else {
		s := &btf.Struct{Name: g.StructName, Size: size}
		t.conv[g], members = s, &s.Members
	}
	var bitOffs []int64
	for _, f := range g.Field {
		if f.BitSize > 0 {
			bitOffs = t.dataBitOffsets(g.Offset)
			break
		}
	}
	for i, f := range g.Field {
		mt, err := t.convert(f.Type, depth+1)
		if err != nil {
			return nil, err
		}
		off := f.ByteOffset * 8
		if f.BitSize > 0 {
			switch {
			case i < len(bitOffs) && bitOffs[i] >= 0:
				off = bitOffs[i] // DW_AT_data_bit_offset (DWARF 4+)
			default:
				// DW_AT_bit_offset counts from the storage unit's most
				// significant bit (DWARF 2/3, little-endian layout).
				unit := f.ByteSize
				if unit == 0 {
					unit = f.Type.Size()
				}
				off = f.ByteOffset*8 + unit*8 - f.BitOffset - f.BitSize
			}
		}
		if off < 0 || off > 0xffffff {
			return nil, fmt.Errorf("%s: %s %s.%s: bit offset %d out of range", t.path, g.Kind, g.StructName, f.Name, off)
		}
		*members = append(*members, btf.Member{
			Name: f.Name, Type: mt, Offset: btf.Bits(off), BitfieldSize: btf.Bits(f.BitSize),
		})
	}
	return t.conv[g], nil
}

// dataBitOffsets reads DW_AT_data_bit_offset of each member DIE of the
// struct at off (-1 where absent); godwarf does not decode it.
func (t *Types) dataBitOffsets(off dwarf.Offset) []int64 {
	r := t.d.Reader()
	r.Seek(off)
	e, err := r.Next()
	if err != nil || e == nil || !e.Children {
		return nil
	}
	var out []int64
	for {
		kid, err := r.Next()
		if err != nil || kid == nil || kid.Tag == 0 {
			return out
		}
		if kid.Tag == dwarf.TagMember {
			v, ok := kid.Val(dwarf.AttrDataBitOffset).(int64)
			if !ok {
				v = -1
			}
			out = append(out, v)
		}
		if kid.Children {
			r.SkipChildren()
		}
	}
}
