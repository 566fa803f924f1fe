package kernel

import (
	"fmt"
	"strings"

	"github.com/cilium/ebpf/btf"
)

// TypeString is the C spelling of t: "struct list_head *", "char [16]",
// "int (*)(struct notifier_block *, unsigned long, void *)".
func TypeString(t btf.Type) string {
	return strings.TrimSpace(Declaration(t, ""))
}

// Declaration is the C declaration of name with type t ("char comm[16]").
func Declaration(t btf.Type, name string) string {
	d := declarer{budget: maxDeclareNodes}
	return d.declare(t, name, 0)
}

// maxDeclareNodes bounds the types one declaration visits: hostile function
// prototypes can nest into an exponential tree.
const maxDeclareNodes = 4096

type declarer struct{ budget int }

func (d *declarer) declare(t btf.Type, inner string, depth int) string {
	if d.budget--; depth > maxNesting || d.budget < 0 {
		return "? " + inner
	}
	sp := func(base string) string {
		if inner == "" {
			return base
		}
		return base + " " + inner
	}
	switch v := t.(type) {
	case nil:
		return sp("?")
	case *btf.Void:
		return sp("void")
	case *btf.Int:
		return sp(v.Name)
	case *btf.Float:
		return sp(v.Name)
	case *btf.Struct:
		return sp("struct " + orAnon(v.Name))
	case *btf.Union:
		return sp("union " + orAnon(v.Name))
	case *btf.Enum:
		return sp("enum " + orAnon(v.Name))
	case *btf.Fwd:
		return sp(v.Kind.String() + " " + v.Name)
	case *btf.Typedef:
		return sp(v.Name)
	case *btf.Pointer:
		switch underlyingQual(v.Target).(type) {
		case *btf.Array, *btf.FuncProto:
			return d.declare(v.Target, "(*"+inner+")", depth+1)
		}
		return d.declare(v.Target, "*"+inner, depth+1)
	case *btf.Array:
		return d.declare(v.Type, inner+fmt.Sprintf("[%d]", v.Nelems), depth+1)
	case *btf.FuncProto:
		var ps []string
		for _, p := range v.Params {
			if d.budget < 0 {
				ps = append(ps, "...")
				break
			}
			ps = append(ps, strings.TrimSpace(d.declare(p.Type, "", depth+1)))
		}
		if len(ps) == 0 {
			ps = []string{"void"}
		}
		return d.declare(v.Return, inner+"("+strings.Join(ps, ", ")+")", depth+1)
	case *btf.Func:
		return d.declare(v.Type, v.Name, depth+1)
	case *btf.Const:
		return d.qualified("const", v.Type, inner, depth)
	case *btf.Volatile:
		return d.qualified("volatile", v.Type, inner, depth)
	case *btf.Restrict:
		return d.qualified("restrict", v.Type, inner, depth)
	case *btf.TypeTag:
		return d.declare(v.Type, inner, depth+1) // __rcu, __user: not C
	case *btf.Var:
		return d.declare(v.Type, inner, depth+1)
	}
	return sp(fmt.Sprintf("%T", t))
}

// qualified puts a qualifier before a plain base type ("const char *") and
// after a pointer ("char *const p").
func (d *declarer) qualified(q string, t btf.Type, inner string, depth int) string {
	switch underlyingQual(t).(type) {
	case *btf.Pointer:
		return d.declare(t, q+" "+inner, depth+1)
	case *btf.Array, *btf.FuncProto:
		return d.declare(t, inner, depth+1)
	}
	return q + " " + d.declare(t, inner, depth+1)
}

// underlyingQual strips qualifiers but not typedefs.
func underlyingQual(t btf.Type) btf.Type {
	for i := 0; i < maxNesting; i++ {
		switch v := t.(type) {
		case *btf.Const:
			t = v.Type
		case *btf.Volatile:
			t = v.Type
		case *btf.Restrict:
			t = v.Type
		case *btf.TypeTag:
			t = v.Type
		default:
			return t
		}
	}
	return t
}

func orAnon(name string) string {
	if name == "" {
		return "{...}"
	}
	return name
}

// Layout describes typeName the way crash's "struct -o" and pahole do: each
// member with its byte offset, bitfield position, type and size, anonymous
// structs and unions expanded and indented, then the total size.
func (k *Kernel) Layout(typeName string) (string, error) {
	t, err := k.Type(typeName)
	if err != nil {
		return "", err
	}
	return FormatLayout(t), nil
}

// FormatLayout is Layout for a type in hand.
func FormatLayout(t btf.Type) string {
	var b strings.Builder
	lines := maxLayoutLines
	d := &declarer{budget: maxLayoutNodes}
	u := underlying(t)
	if td, ok := t.(*btf.Typedef); ok {
		fmt.Fprintf(&b, "typedef %s;\n", strings.TrimSpace(Declaration(td.Type, td.Name)))
	}
	switch v := u.(type) {
	case *btf.Struct:
		fmt.Fprintf(&b, "struct %s {\n", orAnon(v.Name))
		layoutMembers(&b, d, v.Members, 0, 1, &lines)
		b.WriteString("}\n")
	case *btf.Union:
		fmt.Fprintf(&b, "union %s {\n", orAnon(v.Name))
		layoutMembers(&b, d, v.Members, 0, 1, &lines)
		b.WriteString("}\n")
	case *btf.Enum:
		fmt.Fprintf(&b, "enum %s {\n", orAnon(v.Name))
		for _, ev := range v.Values {
			if v.Signed {
				fmt.Fprintf(&b, "    %s = %d,\n", ev.Name, int64(ev.Value))
			} else {
				fmt.Fprintf(&b, "    %s = %d,\n", ev.Name, ev.Value)
			}
		}
		b.WriteString("}\n")
	default:
		if _, isTypedef := t.(*btf.Typedef); !isTypedef {
			fmt.Fprintf(&b, "%s\n", TypeString(t))
		}
	}
	if n, err := btf.Sizeof(t); err == nil {
		fmt.Fprintf(&b, "SIZE: %d\n", n)
	}
	return b.String()
}

// maxLayoutLines bounds Layout's output: hostile types can nest anonymous
// members into an exponential tree. task_struct needs about 400 lines.
const maxLayoutLines = 20000

// maxLayoutNodes bounds the types all declarations of one layout visit.
const maxLayoutNodes = 1 << 16

// layoutMembers writes one line per member, offsets absolute from the
// outermost type (bits).
func layoutMembers(b *strings.Builder, d *declarer, members []btf.Member, base uint64, depth int, lines *int) {
	indent := strings.Repeat("    ", depth)
	if depth > maxNesting || *lines <= 0 {
		fmt.Fprintf(b, "%s...\n", indent)
		return
	}
	for _, m := range members {
		if *lines--; *lines <= 0 {
			fmt.Fprintf(b, "%s... (cut)\n", indent)
			return
		}
		off := base + uint64(m.Offset)
		pos := fmt.Sprintf("[%d]", off/8)
		if m.BitfieldSize > 0 {
			pos = fmt.Sprintf("[%d:%d]", off/8, off%8)
		}
		// Expand anonymous structs and unions, not named typedefs of them.
		u := underlyingQual(m.Type)
		if inner, ok := membersOf(u); ok && anonymous(u) {
			kw := "struct"
			if _, isUnion := u.(*btf.Union); isUnion {
				kw = "union"
			}
			fmt.Fprintf(b, "%s%-8s %s {\n", indent, pos, kw)
			layoutMembers(b, d, inner, off, depth+1, lines)
			size := ""
			if n, err := btf.Sizeof(m.Type); err == nil {
				size = fmt.Sprintf(" /* size %d */", n)
			}
			fmt.Fprintf(b, "%s%-8s }%s;%s\n", indent, "", prefixName(" ", m.Name), size)
			continue
		}
		decl := strings.TrimSpace(d.declare(m.Type, m.Name, 0))
		note := ""
		if m.BitfieldSize > 0 {
			decl += fmt.Sprintf(" : %d", m.BitfieldSize)
			note = fmt.Sprintf(" /* bits %d-%d */", off%8, off%8+uint64(m.BitfieldSize)-1)
		} else if n, err := btf.Sizeof(m.Type); err == nil {
			note = fmt.Sprintf(" /* size %d */", n)
		}
		fmt.Fprintf(b, "%s%-8s %s;%s\n", indent, pos, decl, note)
	}
}

func anonymous(t btf.Type) bool {
	switch v := t.(type) {
	case *btf.Struct:
		return v.Name == ""
	case *btf.Union:
		return v.Name == ""
	}
	return false
}

func prefixName(sep, name string) string {
	if name == "" {
		return ""
	}
	return sep + name
}
