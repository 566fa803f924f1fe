// Package kernel is a small typed object layer over kernel virtual memory:
// a symbol table says where globals are, a TypeSource (BTF from the dump, or
// DWARF from a vmlinux) says what they look like, and Object reads members,
// follows pointers and walks lists the way the kernel's own macros do.
//
// Errors: a missing symbol, type or member wraps ErrAbsent (a kernel feature
// that is not there); a NULL pointer wraps ErrNull; a page that is not in the
// dump stays a *vmem.FaultError (test with vmem.IsFault). Types are
// github.com/cilium/ebpf/btf values whatever their source.
package kernel

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/cilium/ebpf/btf"

	"github.com/panicscope/panicscope/vmcore/vmem"
)

// SymbolLookup finds a symbol's address; the symbols package adapts to it.
type SymbolLookup interface {
	Lookup(name string) (addr uint64, ok bool)
}

// SymbolFunc adapts a function to SymbolLookup.
type SymbolFunc func(name string) (uint64, bool)

// Lookup implements SymbolLookup.
func (f SymbolFunc) Lookup(name string) (uint64, bool) { return f(name) }

// TypeSource resolves a C type name: "struct notifier_block",
// "notifier_block" (a struct, union, typedef, enum or base type of that name)
// or a typedef such as "atomic_t". Any error counts as absence.
type TypeSource interface {
	AnyType(name string) (btf.Type, error)
}

var (
	// ErrAbsent is wrapped when a symbol, type or member does not exist in
	// this kernel.
	ErrAbsent = errors.New("absent in this kernel")
	// ErrNull is wrapped when a NULL pointer is followed.
	ErrNull = errors.New("NULL pointer")
	// ErrType is wrapped when an operation does not fit the object's type
	// (a member of an int, Uint of a struct, ...).
	ErrType = errors.New("wrong type")
	// ErrRange is wrapped by an array index outside the array.
	ErrRange = errors.New("index out of range")
)

// Kernel ties memory, symbols and types together. Fields may be nil when
// unknown: without Syms, Global answers ErrAbsent; without Types only C base
// types ("int", "unsigned long", "char *", ...) resolve. PerCPUOffsets, when
// set, replaces reading __per_cpu_offset. Resolved type names are cached:
// do not change Types, or copy a Kernel, after first use.
type Kernel struct {
	Mem           vmem.Reader
	Syms          SymbolLookup
	Types         TypeSource
	PerCPUOffsets []uint64

	types sync.Map // type name -> btf.Type
}

// Symbol is the address of name, or an error wrapping ErrAbsent.
func (k *Kernel) Symbol(name string) (uint64, error) {
	if k.Syms != nil {
		if a, ok := k.Syms.Lookup(name); ok {
			return a, nil
		}
	}
	return 0, fmt.Errorf("symbol %s: %w", name, ErrAbsent)
}

// Global is the variable name viewed as typeName. Most globals have no BTF
// variable (only per-cpu ones do), so the caller names the type; an empty
// typeName uses a BTF VAR of that name when the TypeSource has one.
func (k *Kernel) Global(name, typeName string) (Object, error) {
	addr, err := k.Symbol(name)
	if err != nil {
		return Object{}, err
	}
	if typeName == "" {
		if k.Types != nil {
			if t, err := k.Types.AnyType(name); err == nil {
				if v, ok := t.(*btf.Var); ok {
					return Object{K: k, Addr: addr, Type: v.Type}, nil
				}
			}
		}
		return Object{}, fmt.Errorf("no type known for variable %s: %w", name, ErrAbsent)
	}
	return k.Object(addr, typeName)
}

// Object is the memory at addr viewed as typeName.
func (k *Kernel) Object(addr uint64, typeName string) (Object, error) {
	t, err := k.Type(typeName)
	if err != nil {
		return Object{}, err
	}
	return Object{K: k, Addr: addr, Type: t}, nil
}

// ContainerOf is container_of(addr, type, member): the typeName object whose
// memberPath lies at addr.
func (k *Kernel) ContainerOf(addr uint64, typeName, memberPath string) (Object, error) {
	off, err := k.OffsetOf(typeName, memberPath)
	if err != nil {
		return Object{}, err
	}
	return k.Object(addr-off, typeName)
}

// OffsetOf is offsetof(type, member) in bytes; memberPath may go through
// nested and anonymous members and array elements ("a.b[2].c") but not
// through pointers. A bitfield has no byte offset.
func (k *Kernel) OffsetOf(typeName, memberPath string) (uint64, error) {
	t, err := k.Type(typeName)
	if err != nil {
		return 0, err
	}
	m, err := Object{K: &Kernel{Mem: noMemory{}}, Type: t}.Member(memberPath)
	if err != nil {
		return 0, fmt.Errorf("offsetof(%s, %s): %w", typeName, memberPath, err)
	}
	if m.bitSize > 0 {
		return 0, fmt.Errorf("offsetof(%s, %s): bitfield: %w", typeName, memberPath, ErrType)
	}
	return m.Addr, nil
}

// noMemory backs OffsetOf: a path that needs memory is an error.
type noMemory struct{}

func (noMemory) ReadVirt([]byte, uint64) error {
	return fmt.Errorf("member path goes through a pointer: %w", ErrType)
}

// Type resolves a C type name with optional pointer and array declarators:
// "struct list_head", "atomic_t", "unsigned long", "char *", "struct page *[4]",
// "u8 [16]". C base types are known without a TypeSource (x86_64 LP64).
func (k *Kernel) Type(name string) (btf.Type, error) {
	if t, ok := k.types.Load(name); ok {
		return t.(btf.Type), nil
	}
	t, err := k.parseType(name)
	if err != nil {
		return nil, err
	}
	k.types.Store(name, t)
	return t, nil
}

func (k *Kernel) parseType(name string) (btf.Type, error) {
	s := strings.TrimSpace(name)
	var dims []uint32
	if i := strings.IndexByte(s, '['); i >= 0 {
		rest := s[i:]
		s = strings.TrimSpace(s[:i])
		for rest != "" {
			j := strings.IndexByte(rest, ']')
			if rest[0] != '[' || j < 0 {
				return nil, fmt.Errorf("type %q: bad array declarator: %w", name, ErrType)
			}
			n := uint64(0)
			if d := strings.TrimSpace(rest[1:j]); d != "" {
				var err error
				if n, err = strconv.ParseUint(d, 0, 32); err != nil {
					return nil, fmt.Errorf("type %q: bad array length: %w", name, ErrType)
				}
			}
			dims = append(dims, uint32(n))
			rest = strings.TrimSpace(rest[j+1:])
		}
	}
	ptrs := 0
	for {
		s = strings.TrimSpace(s)
		if t, ok := strings.CutSuffix(s, "*"); ok {
			s, ptrs = t, ptrs+1
			continue
		}
		if t, ok := strings.CutSuffix(s, " const"); ok {
			s = t
			continue
		}
		break
	}
	for _, q := range []string{"const ", "volatile "} {
		s = strings.TrimPrefix(s, q)
	}
	s = strings.Join(strings.Fields(s), " ")
	if s == "" {
		return nil, fmt.Errorf("empty type name %q: %w", name, ErrType)
	}
	t, err := k.baseType(s)
	if err != nil {
		return nil, err
	}
	for ; ptrs > 0; ptrs-- {
		t = &btf.Pointer{Target: t}
	}
	for i := len(dims) - 1; i >= 0; i-- {
		t = &btf.Array{Index: &btf.Int{Name: "int", Size: 4, Encoding: btf.Signed}, Type: t, Nelems: dims[i]}
	}
	return t, nil
}

func (k *Kernel) baseType(s string) (btf.Type, error) {
	if s == "void" {
		return &btf.Void{}, nil
	}
	var firstErr error
	if k.Types != nil {
		names := []string{s}
		if alias, ok := cSpellings[s]; ok && alias != s {
			names = append(names, alias)
		}
		for _, n := range names {
			t, err := k.Types.AnyType(n)
			if err == nil && t != nil {
				return t, nil
			}
			if firstErr == nil {
				firstErr = err
			}
		}
	}
	if b, ok := builtins[cSpellings[s]]; ok {
		return b, nil
	}
	if firstErr != nil {
		return nil, fmt.Errorf("type %s: %w: %w", s, ErrAbsent, firstErr)
	}
	return nil, fmt.Errorf("type %s: %w", s, ErrAbsent)
}

// cSpellings maps C spellings of the base types to the names GCC writes in
// DWARF and so in BTF.
var cSpellings = map[string]string{}

// builtins are the x86_64 (LP64) base types, by their GCC name.
var builtins = map[string]*btf.Int{}

func init() {
	for _, b := range []struct {
		gcc      string
		size     uint32
		enc      btf.IntEncoding
		spelling []string
	}{
		{"char", 1, btf.Char, nil},
		{"signed char", 1, btf.Signed, nil},
		{"unsigned char", 1, btf.Unsigned, nil},
		{"_Bool", 1, btf.Bool, []string{"bool"}},
		{"short int", 2, btf.Signed, []string{"short", "signed short", "short signed int"}},
		{"short unsigned int", 2, btf.Unsigned, []string{"unsigned short", "unsigned short int"}},
		{"int", 4, btf.Signed, []string{"signed", "signed int"}},
		{"unsigned int", 4, btf.Unsigned, []string{"unsigned"}},
		{"long int", 8, btf.Signed, []string{"long", "signed long", "long signed int"}},
		{"long unsigned int", 8, btf.Unsigned, []string{"unsigned long", "unsigned long int"}},
		{"long long int", 8, btf.Signed, []string{"long long", "signed long long"}},
		{"long long unsigned int", 8, btf.Unsigned, []string{"unsigned long long", "unsigned long long int"}},
	} {
		builtins[b.gcc] = &btf.Int{Name: b.gcc, Size: b.size, Encoding: b.enc}
		cSpellings[b.gcc] = b.gcc
		for _, s := range b.spelling {
			cSpellings[s] = b.gcc
		}
	}
}
