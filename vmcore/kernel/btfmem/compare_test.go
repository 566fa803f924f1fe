package btfmem_test

import (
	"fmt"

	"github.com/cilium/ebpf/btf"
)

// comparer checks that two type graphs are the same: kinds, names, sizes,
// offsets, bitfields, values, tags, and the same type at the end of every
// reference (pairs already compared are not compared again, so cycles end).
type comparer struct {
	seen map[[2]btf.Type]bool
}

func (c *comparer) compare(a, b btf.Type, depth int) error {
	if c.seen[[2]btf.Type{a, b}] {
		return nil
	}
	c.seen[[2]btf.Type{a, b}] = true
	if fmt.Sprintf("%T", a) != fmt.Sprintf("%T", b) {
		return fmt.Errorf("%T vs %T", a, b)
	}
	if depth > 10_000 {
		return fmt.Errorf("nesting over %d", depth)
	}
	sub := func(what string, x, y btf.Type) error {
		if err := c.compare(x, y, depth+1); err != nil {
			return fmt.Errorf("%s %s: %w", b.TypeName(), what, err)
		}
		return nil
	}
	same := func(what string, x, y any) error {
		if fmt.Sprint(x) != fmt.Sprint(y) {
			return fmt.Errorf("%s %s: %v vs %v", b.TypeName(), what, x, y)
		}
		return nil
	}
	switch x := a.(type) {
	case *btf.Void:
		return nil
	case *btf.Int:
		return same("int", *x, *b.(*btf.Int))
	case *btf.Float:
		return same("float", *x, *b.(*btf.Float))
	case *btf.Fwd:
		return same("fwd", *x, *b.(*btf.Fwd))
	case *btf.Pointer:
		return sub("target", x.Target, b.(*btf.Pointer).Target)
	case *btf.Array:
		y := b.(*btf.Array)
		if err := same("nelems", x.Nelems, y.Nelems); err != nil {
			return err
		}
		if err := sub("index", x.Index, y.Index); err != nil {
			return err
		}
		return sub("element", x.Type, y.Type)
	case *btf.Struct:
		y := b.(*btf.Struct)
		if err := same("struct", []any{x.Name, x.Size, x.Tags, len(x.Members)}, []any{y.Name, y.Size, y.Tags, len(y.Members)}); err != nil {
			return err
		}
		return c.members(x.Members, y.Members, depth)
	case *btf.Union:
		y := b.(*btf.Union)
		if err := same("union", []any{x.Name, x.Size, x.Tags, len(x.Members)}, []any{y.Name, y.Size, y.Tags, len(y.Members)}); err != nil {
			return err
		}
		return c.members(x.Members, y.Members, depth)
	case *btf.Enum:
		return same("enum", *x, *b.(*btf.Enum))
	case *btf.Typedef:
		y := b.(*btf.Typedef)
		if err := same("typedef", []any{x.Name, x.Tags}, []any{y.Name, y.Tags}); err != nil {
			return err
		}
		return sub("type", x.Type, y.Type)
	case *btf.Volatile:
		return sub("type", x.Type, b.(*btf.Volatile).Type)
	case *btf.Const:
		return sub("type", x.Type, b.(*btf.Const).Type)
	case *btf.Restrict:
		return sub("type", x.Type, b.(*btf.Restrict).Type)
	case *btf.TypeTag:
		y := b.(*btf.TypeTag)
		if err := same("type tag", x.Value, y.Value); err != nil {
			return err
		}
		return sub("type", x.Type, y.Type)
	case *btf.Func:
		y := b.(*btf.Func)
		if err := same("func", []any{x.Name, x.Linkage, x.Tags, x.ParamTags}, []any{y.Name, y.Linkage, y.Tags, y.ParamTags}); err != nil {
			return err
		}
		return sub("proto", x.Type, y.Type)
	case *btf.FuncProto:
		y := b.(*btf.FuncProto)
		if err := same("params", len(x.Params), len(y.Params)); err != nil {
			return err
		}
		for i := range x.Params {
			if err := same("param", x.Params[i].Name, y.Params[i].Name); err != nil {
				return err
			}
			if err := sub("param "+x.Params[i].Name, x.Params[i].Type, y.Params[i].Type); err != nil {
				return err
			}
		}
		return sub("return", x.Return, y.Return)
	case *btf.Var:
		y := b.(*btf.Var)
		if err := same("var", []any{x.Name, x.Linkage, x.Tags}, []any{y.Name, y.Linkage, y.Tags}); err != nil {
			return err
		}
		return sub("type", x.Type, y.Type)
	case *btf.Datasec:
		y := b.(*btf.Datasec)
		if err := same("datasec", []any{x.Name, x.Size, len(x.Vars)}, []any{y.Name, y.Size, len(y.Vars)}); err != nil {
			return err
		}
		for i := range x.Vars {
			if err := same("var", []any{x.Vars[i].Offset, x.Vars[i].Size}, []any{y.Vars[i].Offset, y.Vars[i].Size}); err != nil {
				return err
			}
			if err := sub("var", x.Vars[i].Type, y.Vars[i].Type); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("unexpected %T", a)
}

func (c *comparer) members(x, y []btf.Member, depth int) error {
	for i := range x {
		p, q := x[i], y[i]
		if fmt.Sprint(p.Name, p.Offset, p.BitfieldSize, p.Tags) != fmt.Sprint(q.Name, q.Offset, q.BitfieldSize, q.Tags) {
			return fmt.Errorf("member %d: %s/%d/%d/%v vs %s/%d/%d/%v", i, p.Name, p.Offset, p.BitfieldSize, p.Tags, q.Name, q.Offset, q.BitfieldSize, q.Tags)
		}
		if err := c.compare(p.Type, q.Type, depth+1); err != nil {
			return fmt.Errorf("member %s: %w", p.Name, err)
		}
	}
	return nil
}
