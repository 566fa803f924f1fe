package btfmem

import (
	"errors"
	"fmt"
	"strings"

	"github.com/cilium/ebpf/btf"
)

// ErrNotFound is wrapped when no type has the name asked for.
var ErrNotFound = errors.New("no such type in BTF")

// Types resolves C type names in vmlinux BTF, then in module BTF. It
// implements kernel.TypeSource. Safe for concurrent use once built.
type Types struct {
	specs []*Spec
}

// NewTypes searches base first, then each module Spec in order.
func NewTypes(base *Spec, modules ...*Spec) *Types {
	t := &Types{}
	if base != nil {
		t.specs = append(t.specs, base)
	}
	for _, m := range modules {
		if m != nil {
			t.specs = append(t.specs, m)
		}
	}
	return t
}

// AnyType resolves "struct X", "union X", "enum X" or a bare name. A bare
// name prefers a struct, then a union, typedef, enum, integer, float and
// finally a variable or function; several complete definitions of the same
// struct name (distinct compilation units) give the first one.
func (t *Types) AnyType(name string) (btf.Type, error) {
	name = strings.TrimSpace(name)
	want := ""
	for _, kw := range []string{"struct", "union", "enum"} {
		if rest, ok := strings.CutPrefix(name, kw+" "); ok {
			want, name = kw, strings.TrimSpace(rest)
			break
		}
	}
	if name == "" {
		return nil, fmt.Errorf("empty type name: %w", ErrNotFound)
	}
	best, bestRank := btf.Type(nil), 1<<30
	consider := func(cands []btf.Type) {
		for _, c := range cands {
			if r := rank(c, want); r < bestRank {
				best, bestRank = c, r
			}
		}
	}
	for _, s := range t.specs {
		consider(s.typesByName(name, false))
		// Functions are four in five named types and rank below all but
		// forward declarations: look at them only when one could win
		// (a function's name is a C identifier: "unsigned long" is not).
		if want == "" && bestRank > rankFunc && isIdentifier(name) {
			consider(s.typesByName(name, true))
		}
		if best != nil && bestRank < rankFwd {
			break // vmlinux wins over modules
		}
	}
	if best == nil {
		if want != "" {
			name = want + " " + name
		}
		return nil, fmt.Errorf("%s: %w", name, ErrNotFound)
	}
	return best, nil
}

const (
	rankFunc = 7
	rankFwd  = 50
)

// rank orders candidates of one name; lower is better, rankNone excluded.
func rank(t btf.Type, want string) int {
	const none = 1 << 30
	switch t := t.(type) {
	case *btf.Struct:
		if want == "" || want == "struct" {
			return 0
		}
	case *btf.Union:
		if want == "" || want == "union" {
			return 1
		}
	case *btf.Enum:
		if want == "" || want == "enum" {
			return 3
		}
	case *btf.Fwd:
		if want == "" || want == t.Kind.String() {
			return rankFwd
		}
	}
	if want != "" {
		return none
	}
	switch t.(type) {
	case *btf.Typedef:
		return 2
	case *btf.Int:
		return 4
	case *btf.Float:
		return 5
	case *btf.Var:
		return 6
	case *btf.Func:
		return rankFunc
	}
	return none - 1
}

func isIdentifier(s string) bool {
	for i, c := range []byte(s) {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return s != ""
}
