package kernel

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/cilium/ebpf/btf"

	"github.com/panicscope/panicscope/vmcore/vmem"
)

// MaxBytes bounds Object.Bytes.
const MaxBytes = 16 << 20

// maxNesting bounds recursion through anonymous members and typedef chains
// of hostile type data.
const maxNesting = 32

// Object is a typed view of kernel memory at Addr. A bitfield member also
// carries its bit position, hidden: it starts bitOff bits after Addr and is
// bitSize bits wide.
type Object struct {
	K    *Kernel
	Addr uint64
	Type btf.Type

	bitOff, bitSize uint32
}

// String is "(type)0xaddr", with the bit range of a bitfield.
func (o Object) String() string {
	s := fmt.Sprintf("(%s)%#x", TypeString(o.Type), o.Addr)
	if o.bitSize > 0 {
		s += fmt.Sprintf(":%d+%d", o.bitOff, o.bitSize)
	}
	return s
}

// IsBitfield reports whether o is a bitfield member.
func (o Object) IsBitfield() bool { return o.bitSize > 0 }

// Bitfield returns the bit offset from Addr and the width of a bitfield
// member (0, 0 otherwise).
func (o Object) Bitfield() (offset, size uint32) { return o.bitOff, o.bitSize }

// underlying strips typedefs and qualifiers.
func underlying(t btf.Type) btf.Type {
	for i := 0; i < maxNesting; i++ {
		t = underlyingQual(t)
		td, ok := t.(*btf.Typedef)
		if !ok {
			return t
		}
		t = td.Type
	}
	return nil
}

func (o Object) mem() (vmem.Reader, error) {
	if o.K == nil || o.K.Mem == nil {
		return nil, errors.New("kernel: object has no memory")
	}
	if o.Type == nil {
		return nil, fmt.Errorf("kernel: object at %#x has no type: %w", o.Addr, ErrType)
	}
	return o.K.Mem, nil
}

func (o Object) read(buf []byte) error {
	m, err := o.mem()
	if err != nil {
		return err
	}
	return m.ReadVirt(buf, o.Addr)
}

// Cast views the same memory as typeName.
func (o Object) Cast(typeName string) (Object, error) {
	if o.K == nil {
		return Object{}, errors.New("kernel: zero Object")
	}
	return o.K.Object(o.Addr, typeName)
}

// Member follows a member path: "a.b.c" through nested structs, anonymous
// structs and unions are looked through, "a[3]" indexes an array (or a
// pointer), and "a->b" (or "a.b" when a is a pointer) dereferences.
func (o Object) Member(path string) (Object, error) {
	steps, err := parsePath(path)
	if err != nil {
		return Object{}, err
	}
	cur := o
	for _, s := range steps {
		switch s.op {
		case opDeref:
			cur, err = cur.Deref()
		case opIndex:
			cur, err = cur.Index(s.index)
		default:
			cur, err = cur.member(s.name)
		}
		if err != nil {
			return Object{}, fmt.Errorf("%s: %w", path, err)
		}
	}
	return cur, nil
}

func (o Object) member(name string) (Object, error) {
	if o.bitSize > 0 {
		return Object{}, fmt.Errorf("member %s of a bitfield: %w", name, ErrType)
	}
	t := underlying(o.Type)
	if p, ok := t.(*btf.Pointer); ok {
		if _, ok := underlying(p.Target).(*btf.Struct); !ok {
			if _, ok := underlying(p.Target).(*btf.Union); !ok {
				return Object{}, fmt.Errorf("member %s of %s: %w", name, TypeString(o.Type), ErrType)
			}
		}
		d, err := o.Deref()
		if err != nil {
			return Object{}, err
		}
		o, t = d, underlying(d.Type)
	}
	members, ok := membersOf(t)
	if !ok {
		return Object{}, fmt.Errorf("member %s of %s: %w", name, TypeString(o.Type), ErrType)
	}
	budget := maxMemberVisits
	off, m, found := findMember(members, name, 0, &budget)
	if !found {
		return Object{}, fmt.Errorf("%s has no member %s: %w", TypeString(o.Type), name, ErrAbsent)
	}
	r := Object{K: o.K, Addr: o.Addr + off/8, Type: m.Type}
	if m.BitfieldSize > 0 {
		r.bitOff, r.bitSize = uint32(off%8), uint32(m.BitfieldSize)
	} else if off%8 != 0 {
		return Object{}, fmt.Errorf("member %s at bit %d is not byte aligned: %w", name, off, ErrType)
	}
	return r, nil
}

func membersOf(t btf.Type) ([]btf.Member, bool) {
	switch t := t.(type) {
	case *btf.Struct:
		return t.Members, true
	case *btf.Union:
		return t.Members, true
	}
	return nil, false
}

// maxMemberVisits bounds one member search: hostile types can nest
// anonymous members into an exponential tree.
const maxMemberVisits = 1 << 16

// findMember finds name among members, looking through anonymous struct and
// union members; off is the member's bit offset.
func findMember(members []btf.Member, name string, depth int, budget *int) (off uint64, m btf.Member, ok bool) {
	if depth > maxNesting || *budget <= 0 {
		return 0, btf.Member{}, false
	}
	*budget -= len(members)
	for _, m := range members {
		if m.Name == name && name != "" {
			return uint64(m.Offset), m, true
		}
	}
	for _, m := range members {
		if m.Name != "" {
			continue
		}
		if inner, isComp := membersOf(underlying(m.Type)); isComp {
			if o, im, ok := findMember(inner, name, depth+1, budget); ok {
				return uint64(m.Offset) + o, im, true
			}
		}
	}
	return 0, btf.Member{}, false
}

type pathOp int

const (
	opMember pathOp = iota
	opIndex
	opDeref
)

type pathStep struct {
	op    pathOp
	name  string
	index int
}

// parsePath splits "a.b->c[3]" into steps.
func parsePath(path string) ([]pathStep, error) {
	var steps []pathStep
	s := strings.TrimSpace(path)
	bad := func() ([]pathStep, error) {
		return nil, fmt.Errorf("bad member path %q: %w", path, ErrType)
	}
	s = strings.TrimPrefix(s, ".")
	for s != "" {
		switch {
		case strings.HasPrefix(s, "->"):
			steps = append(steps, pathStep{op: opDeref})
			s = s[2:]
			if s == "" || s[0] == '.' || s[0] == '[' || strings.HasPrefix(s, "->") {
				return bad()
			}
			continue
		case s[0] == '.':
			s = s[1:]
			if s == "" || s[0] == '.' || s[0] == '[' {
				return bad()
			}
			continue
		case s[0] == '[':
			j := strings.IndexByte(s, ']')
			if j < 0 {
				return bad()
			}
			n, err := strconv.ParseUint(strings.TrimSpace(s[1:j]), 0, 31)
			if err != nil {
				return bad()
			}
			steps = append(steps, pathStep{op: opIndex, index: int(n)})
			s = s[j+1:]
			continue
		}
		j := strings.IndexAny(s, ".[-")
		if j < 0 {
			j = len(s)
		}
		name := strings.TrimSpace(s[:j])
		if name == "" {
			return bad()
		}
		steps = append(steps, pathStep{op: opMember, name: name})
		s = s[j:]
		if s != "" && s[0] == '-' && !strings.HasPrefix(s, "->") {
			return bad()
		}
	}
	if len(steps) == 0 {
		return bad()
	}
	return steps, nil
}

// Deref follows a pointer; NULL gives an error wrapping ErrNull.
func (o Object) Deref() (Object, error) {
	p, ok := underlying(o.Type).(*btf.Pointer)
	if !ok || o.bitSize > 0 {
		return Object{}, fmt.Errorf("dereference of %s: %w", TypeString(o.Type), ErrType)
	}
	v, err := o.Pointer()
	if err != nil {
		return Object{}, err
	}
	if v == 0 {
		return Object{}, fmt.Errorf("%s at %#x: %w", TypeString(o.Type), o.Addr, ErrNull)
	}
	return Object{K: o.K, Addr: v, Type: p.Target}, nil
}

// Pointer is the raw value of a pointer (or of an 8-byte integer).
func (o Object) Pointer() (uint64, error) {
	switch t := underlying(o.Type).(type) {
	case *btf.Pointer:
	case *btf.Int:
		if t.Size != 8 {
			return 0, fmt.Errorf("pointer value of %s: %w", TypeString(o.Type), ErrType)
		}
	default:
		return 0, fmt.Errorf("pointer value of %s: %w", TypeString(o.Type), ErrType)
	}
	v, _, _, err := o.value()
	return v, err
}

// Uint is the value of an integer, enum, bool or pointer, zero-extended
// from its size (or bitfield width).
func (o Object) Uint() (uint64, error) {
	v, _, _, err := o.value()
	return v, err
}

// Int is the value sign-extended from its size (or bitfield width).
func (o Object) Int() (int64, error) {
	v, bits, _, err := o.value()
	if err != nil {
		return 0, err
	}
	sh := 64 - bits
	return int64(v<<sh) >> sh, nil
}

// Value is Int for signed types and Uint otherwise, as an int64 / uint64
// pair: signed reports which one applies.
func (o Object) Value() (u uint64, i int64, signed bool, err error) {
	v, bits, signed, err := o.value()
	if err != nil {
		return 0, 0, false, err
	}
	sh := 64 - bits
	return v, int64(v<<sh) >> sh, signed, nil
}

// Bool is Uint != 0.
func (o Object) Bool() (bool, error) {
	v, err := o.Uint()
	return v != 0, err
}

// EnumName is the enumerator name of an enum value, or its number when no
// enumerator matches.
func (o Object) EnumName() (string, error) {
	e, ok := underlying(o.Type).(*btf.Enum)
	if !ok {
		return "", fmt.Errorf("enum name of %s: %w", TypeString(o.Type), ErrType)
	}
	u, i, signed, err := o.Value()
	if err != nil {
		return "", err
	}
	for _, ev := range e.Values {
		if signed && int64(ev.Value) == i || !signed && ev.Value == u {
			return ev.Name, nil
		}
	}
	if signed {
		return strconv.FormatInt(i, 10), nil
	}
	return strconv.FormatUint(u, 10), nil
}

// value reads a scalar: its bits zero-extended, its width in bits and
// whether the type is signed.
func (o Object) value() (v uint64, bits uint32, signed bool, err error) {
	var size uint32
	switch t := underlying(o.Type).(type) {
	case *btf.Int:
		size, signed = t.Size, t.Encoding == btf.Signed
	case *btf.Enum:
		size, signed = t.Size, t.Signed
	case *btf.Pointer:
		size = 8
	default:
		return 0, 0, false, fmt.Errorf("value of %s: %w", TypeString(o.Type), ErrType)
	}
	if o.bitSize > 0 {
		if o.bitSize > 64 || o.bitOff > 7 {
			return 0, 0, false, fmt.Errorf("bitfield %d+%d: %w", o.bitOff, o.bitSize, ErrType)
		}
		var b [16]byte
		n := (o.bitOff + o.bitSize + 7) / 8
		if err := o.read(b[:n]); err != nil {
			return 0, 0, false, err
		}
		lo := binary.LittleEndian.Uint64(b[:8])
		v = lo >> o.bitOff
		if o.bitOff > 0 {
			v |= uint64(b[8]) << (64 - o.bitOff)
		}
		if o.bitSize < 64 {
			v &= 1<<o.bitSize - 1
		}
		return v, o.bitSize, signed, nil
	}
	var b [8]byte
	switch size {
	case 1, 2, 4, 8:
	default:
		return 0, 0, false, fmt.Errorf("value of %d-byte %s: %w", size, TypeString(o.Type), ErrType)
	}
	if err := o.read(b[:size]); err != nil {
		return 0, 0, false, err
	}
	return binary.LittleEndian.Uint64(b[:]), size * 8, signed, nil
}

// Size is the size of the object's type in bytes (of the declared type for
// a bitfield).
func (o Object) Size() (int, error) {
	n, err := btf.Sizeof(o.Type)
	if err != nil {
		return 0, fmt.Errorf("size of %s: %v: %w", TypeString(o.Type), err, ErrType)
	}
	return n, nil
}

// Bytes reads the whole object (at most MaxBytes).
func (o Object) Bytes() ([]byte, error) {
	if o.bitSize > 0 {
		return nil, fmt.Errorf("bytes of a bitfield: %w", ErrType)
	}
	n, err := o.Size()
	if err != nil {
		return nil, err
	}
	if n > MaxBytes {
		return nil, fmt.Errorf("%s is %d bytes, over %d: %w", TypeString(o.Type), n, MaxBytes, ErrType)
	}
	buf := make([]byte, n)
	if err := o.read(buf); err != nil {
		return nil, err
	}
	return buf, nil
}

// CString reads a NUL-terminated string of at most max bytes from a char
// array (at most its length) or from where a char pointer points. max <= 0
// means 4096.
func (o Object) CString(max int) (string, error) {
	if max <= 0 {
		max = 4096
	}
	m, err := o.mem()
	if err != nil {
		return "", err
	}
	switch t := underlying(o.Type).(type) {
	case *btf.Array:
		if !isByte(t.Type) {
			break
		}
		if t.Nelems > 0 && int64(t.Nelems) < int64(max) {
			max = int(t.Nelems)
		}
		return vmem.ReadCString(m, o.Addr, max)
	case *btf.Pointer:
		if _, void := underlying(t.Target).(*btf.Void); !void && !isByte(t.Target) {
			break
		}
		p, err := o.Pointer()
		if err != nil {
			return "", err
		}
		if p == 0 {
			return "", fmt.Errorf("string at %#x: %w", o.Addr, ErrNull)
		}
		return vmem.ReadCString(m, p, max)
	}
	return "", fmt.Errorf("string from %s: %w", TypeString(o.Type), ErrType)
}

func isByte(t btf.Type) bool {
	i, ok := underlying(t).(*btf.Int)
	return ok && i.Size == 1
}

// Index is element i of an array, or of the array a pointer points to. An
// array declared with length 0 (a flexible array member) is not bounded.
func (o Object) Index(i int) (Object, error) {
	if i < 0 {
		return Object{}, fmt.Errorf("index %d: %w", i, ErrRange)
	}
	if o.bitSize > 0 {
		return Object{}, fmt.Errorf("index of a bitfield: %w", ErrType)
	}
	var elem btf.Type
	base := o.Addr
	switch t := underlying(o.Type).(type) {
	case *btf.Array:
		if t.Nelems > 0 && uint64(i) >= uint64(t.Nelems) {
			return Object{}, fmt.Errorf("index %d of %s: %w", i, TypeString(o.Type), ErrRange)
		}
		elem = t.Type
	case *btf.Pointer:
		p, err := o.Pointer()
		if err != nil {
			return Object{}, err
		}
		if p == 0 {
			return Object{}, fmt.Errorf("%s at %#x: %w", TypeString(o.Type), o.Addr, ErrNull)
		}
		elem, base = t.Target, p
	default:
		return Object{}, fmt.Errorf("index of %s: %w", TypeString(o.Type), ErrType)
	}
	size, err := btf.Sizeof(elem)
	if err != nil {
		return Object{}, fmt.Errorf("element of %s: %v: %w", TypeString(o.Type), err, ErrType)
	}
	return Object{K: o.K, Addr: base + uint64(i)*uint64(size), Type: elem}, nil
}

// Len is the declared length of an array (0 for a flexible array).
func (o Object) Len() (int, error) {
	a, ok := underlying(o.Type).(*btf.Array)
	if !ok {
		return 0, fmt.Errorf("length of %s: %w", TypeString(o.Type), ErrType)
	}
	return int(a.Nelems), nil
}
