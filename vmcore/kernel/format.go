package kernel

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/cilium/ebpf/btf"
)

// FormatOptions bound and decorate Format's output.
type FormatOptions struct {
	// Symbolize names an address ("pvpanic_panic_notify" or
	// "panic+0x13d"), "" when it is not in a symbol. It decorates pointers
	// as crash does: 0xffffffffc05b61d0 <pvpanic_panic_notify>.
	Symbolize func(addr uint64) string
	// MaxDepth bounds nesting of structs and arrays (default 6).
	MaxDepth int
	// MaxLines bounds the output (default 4096 lines).
	MaxLines int
	// MaxElems bounds the elements printed of one array (default 64).
	MaxElems int
}

// Format prints o's value the way crash's `struct TYPE ADDR` and `p` do:
// members one a line, nested structs in braces, char arrays as strings,
// enums by name, pointers in hex with their symbol. A member that cannot be
// read prints as <unreadable: why> and the rest still prints; output is
// bounded by opt, and strings are escaped so no dump byte reaches a
// terminal raw.
func (o Object) Format(opt FormatOptions) string {
	if opt.MaxDepth <= 0 {
		opt.MaxDepth = 6
	}
	if opt.MaxLines <= 0 {
		opt.MaxLines = 4096
	}
	if opt.MaxElems <= 0 {
		opt.MaxElems = 64
	}
	f := &formatter{opt: opt}
	head := TypeString(o.Type)
	if _, ok := membersOf(underlying(o.Type)); ok {
		f.b.WriteString(head + " ")
	}
	f.value(o, 0)
	f.b.WriteString("\n")
	if f.cut {
		f.b.WriteString(fmt.Sprintf("(output cut at %d lines)\n", opt.MaxLines))
	}
	return f.b.String()
}

type formatter struct {
	opt   FormatOptions
	b     strings.Builder
	lines int
	cut   bool
}

func (f *formatter) newline(depth int) bool {
	if f.lines >= f.opt.MaxLines {
		f.cut = true
		return false
	}
	f.lines++
	f.b.WriteString("\n" + strings.Repeat("  ", depth))
	return true
}

func (f *formatter) value(o Object, depth int) {
	t := underlying(o.Type)
	switch t := t.(type) {
	case *btf.Struct, *btf.Union:
		members, _ := membersOf(t)
		f.members(o, members, depth)
	case *btf.Array:
		f.array(o, t, depth)
	case *btf.Enum:
		name, err := o.EnumName()
		f.scalar(name, err)
	case *btf.Pointer:
		v, err := o.Pointer()
		if err != nil {
			f.scalar("", err)
			return
		}
		f.b.WriteString(f.pointer(v))
	case *btf.Int:
		f.integer(o, t)
	case nil:
		f.b.WriteString("<type nested too deep>")
	default:
		f.b.WriteString("<" + TypeString(o.Type) + ">")
	}
}

func (f *formatter) pointer(v uint64) string {
	s := fmt.Sprintf("%#x", v)
	if v != 0 && f.opt.Symbolize != nil {
		if name := f.opt.Symbolize(v); name != "" {
			s += " <" + name + ">"
		}
	}
	return s
}

func (f *formatter) integer(o Object, t *btf.Int) {
	u, i, signed, err := o.Value()
	switch {
	case err != nil:
		f.scalar("", err)
	case t.Encoding == btf.Bool:
		f.b.WriteString(strconv.FormatBool(u != 0))
	case t.Encoding == btf.Char && t.Size == 1:
		f.b.WriteString(fmt.Sprintf("%d %s", i, strconv.QuoteRuneToASCII(rune(u))))
	case signed:
		f.b.WriteString(strconv.FormatInt(i, 10))
	default:
		f.b.WriteString(strconv.FormatUint(u, 10))
	}
}

func (f *formatter) scalar(s string, err error) {
	if err != nil {
		f.b.WriteString("<unreadable: " + quoteSafe(err.Error()) + ">")
		return
	}
	f.b.WriteString(s)
}

func (f *formatter) members(o Object, members []btf.Member, depth int) {
	if depth >= f.opt.MaxDepth {
		f.b.WriteString("{...}")
		return
	}
	f.b.WriteString("{")
	for i, m := range members {
		if !f.newline(depth + 1) {
			return
		}
		mo := Object{K: o.K, Addr: o.Addr + uint64(m.Offset)/8, Type: m.Type}
		if m.BitfieldSize > 0 {
			mo.bitOff, mo.bitSize = uint32(m.Offset%8), uint32(m.BitfieldSize)
		}
		if m.Name != "" {
			f.b.WriteString(m.Name + " = ")
		}
		f.value(mo, depth+1)
		if i < len(members)-1 {
			f.b.WriteString(",")
		}
	}
	f.newline(depth)
	f.b.WriteString("}")
}

func (f *formatter) array(o Object, t *btf.Array, depth int) {
	if isByte(t.Type) {
		n := min(int(t.Nelems), 4096)
		buf := make([]byte, n)
		if err := o.read(buf); err != nil {
			f.scalar("", err)
			return
		}
		if i := strings.IndexByte(string(buf), 0); i >= 0 {
			buf = buf[:i]
		}
		f.b.WriteString(strconv.QuoteToASCII(string(buf)))
		return
	}
	if depth >= f.opt.MaxDepth {
		f.b.WriteString("{...}")
		return
	}
	n := int(t.Nelems)
	shown := min(n, f.opt.MaxElems)
	_, composite := membersOf(underlying(t.Type))
	f.b.WriteString("{")
	for i := 0; i < shown; i++ {
		e, err := o.Index(i)
		if composite {
			if !f.newline(depth + 1) {
				return
			}
		} else if i > 0 {
			f.b.WriteString(" ")
		}
		if err != nil {
			f.scalar("", err)
		} else {
			f.value(e, depth+1)
		}
		if i < n-1 {
			f.b.WriteString(",")
		}
	}
	if shown < n {
		f.b.WriteString(fmt.Sprintf(" ... (%d more)", n-shown))
	}
	if composite {
		f.newline(depth)
	}
	f.b.WriteString("}")
}

// quoteSafe keeps printable ASCII and escapes the rest, so error text that
// quotes dump bytes stays harmless on a terminal.
func quoteSafe(s string) string {
	q := strconv.QuoteToASCII(s)
	return q[1 : len(q)-1]
}
