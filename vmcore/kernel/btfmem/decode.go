package btfmem

import (
	"fmt"
	"iter"

	"github.com/cilium/ebpf/btf"
)

// TypeByID decodes the type with the given ID (and, once, what it refers to).
// IDs below the first of split BTF are the base's.
func (s *Spec) TypeByID(id btf.TypeID) (btf.Type, error) {
	if id == 0 {
		return (*btf.Void)(nil), nil
	}
	if _, _, ok := s.owner(id); !ok {
		return nil, fmt.Errorf("type %d: %w", id, ErrNotFound)
	}
	if s.kind(id) == kindDeclTag {
		return nil, fmt.Errorf("type %d is a decl tag, kept only as the tags of what it annotates: %w", id, ErrNotFound)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.decode(id), nil
}

// All iterates over this Spec's own types in ID order, decoding each.
func (s *Spec) All() iter.Seq2[btf.Type, error] {
	return func(yield func(btf.Type, error) bool) {
		for i := range s.offs {
			t, err := s.TypeByID(s.first + btf.TypeID(i))
			if !yield(t, err) {
				return
			}
		}
	}
}

// TypeID is the ID of a type this Spec (or its base) decoded.
func (s *Spec) TypeID(t btf.Type) (btf.TypeID, error) {
	if _, ok := t.(*btf.Void); ok {
		return 0, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for sp := s; sp != nil; sp = sp.base {
		for i, c := range sp.cache {
			if c == t {
				return sp.first + btf.TypeID(i), nil
			}
		}
	}
	return 0, fmt.Errorf("type %v not decoded from this BTF: %w", t, ErrNotFound)
}

// decoder fills the types created during one decode: each new type is
// created empty (so references, cycles included, can point at it at once)
// and queued; filling it may create and queue more. No recursion: a chain
// of a million typedefs costs a million queue entries, not stack frames.
type decoder struct {
	queue []pending
}

type pending struct {
	s *Spec
	i int
}

// decode returns the type for a known, non-void id; s.mu is held.
func (s *Spec) decode(id btf.TypeID) btf.Type {
	var d decoder
	t := d.ref(s, id)
	for len(d.queue) > 0 {
		p := d.queue[len(d.queue)-1]
		d.queue = d.queue[:len(d.queue)-1]
		d.fill(p.s, p.i)
	}
	return t
}

// ref is the type for id as seen from s: cached, or created and queued.
func (d *decoder) ref(s *Spec, id btf.TypeID) btf.Type {
	if id == 0 {
		return (*btf.Void)(nil)
	}
	o, i, _ := s.owner(id) // parse checked every reference
	if t, ok := o.cache[i]; ok {
		return t
	}
	t := o.shell(i)
	o.cache[i] = t
	d.queue = append(d.queue, pending{o, i})
	return t
}

// shell creates type i with the fields its own record gives.
func (s *Spec) shell(i int) btf.Type {
	r := s.types[s.offs[i]:]
	bo := s.bo
	name := s.str(bo.Uint32(r))
	info, sizeType := bo.Uint32(r[4:]), bo.Uint32(r[8:])
	kind, flag := info>>24&0x1f, info>>31 == 1
	switch kind {
	case kindInt:
		return &btf.Int{Name: name, Size: sizeType, Encoding: btf.IntEncoding(bo.Uint32(r[typeLen:]) >> 24 & 0xf)}
	case kindPtr:
		return &btf.Pointer{}
	case kindArray:
		return &btf.Array{Nelems: bo.Uint32(r[typeLen+8:])}
	case kindStruct:
		return &btf.Struct{Name: name, Size: sizeType}
	case kindUnion:
		return &btf.Union{Name: name, Size: sizeType}
	case kindEnum, kindEnum64:
		return &btf.Enum{Name: name, Size: sizeType, Signed: flag}
	case kindFwd:
		kind := btf.FwdStruct
		if flag {
			kind = btf.FwdUnion
		}
		return &btf.Fwd{Name: name, Kind: kind}
	case kindTypedef:
		return &btf.Typedef{Name: name}
	case kindVolatile:
		return &btf.Volatile{}
	case kindConst:
		return &btf.Const{}
	case kindRestrict:
		return &btf.Restrict{}
	case kindFunc:
		return &btf.Func{Name: name, Linkage: btf.FuncLinkage(info & 0xffff)}
	case kindFuncProto:
		return &btf.FuncProto{}
	case kindVar:
		return &btf.Var{Name: name, Linkage: btf.VarLinkage(bo.Uint32(r[typeLen:]))}
	case kindDatasec:
		return &btf.Datasec{Name: name, Size: sizeType}
	case kindFloat:
		return &btf.Float{Name: name, Size: sizeType}
	case kindTypeTag:
		return &btf.TypeTag{Value: name}
	}
	// Decl tags are refused as references and not indexed by name; parse
	// refused every other kind.
	panic(fmt.Sprintf("btfmem: type %d of kind %d decoded", s.first+btf.TypeID(i), kind))
}

// fill sets the references and lists of type i, as cilium's inflateType
// does (same fields, same empty-but-allocated lists, legacy bitfields and
// decl tags applied the same way).
func (d *decoder) fill(s *Spec, i int) {
	r := s.types[s.offs[i]:]
	bo := s.bo
	info, sizeType := bo.Uint32(r[4:]), bo.Uint32(r[8:])
	kind, vlen, flag := info>>24&0x1f, int(info&0xffff), info>>31 == 1
	aux := r[typeLen:]
	ref := func(id uint32) btf.Type { return d.ref(s, btf.TypeID(id)) }
	t := s.cache[i]
	switch v := t.(type) {
	case *btf.Pointer:
		v.Target = ref(sizeType)
	case *btf.Array:
		v.Index = ref(bo.Uint32(aux[4:]))
		v.Type = ref(bo.Uint32(aux))
	case *btf.Struct:
		v.Members = d.members(s, aux, vlen, flag)
	case *btf.Union:
		v.Members = d.members(s, aux, vlen, flag)
	case *btf.Enum:
		v.Values = make([]btf.EnumValue, 0, vlen)
		for j := range vlen {
			if kind == kindEnum64 {
				e := aux[12*j:]
				v.Values = append(v.Values, btf.EnumValue{Name: s.str(bo.Uint32(e)),
					Value: uint64(bo.Uint32(e[8:]))<<32 | uint64(bo.Uint32(e[4:]))})
				continue
			}
			e := aux[8*j:]
			val := uint64(bo.Uint32(e[4:]))
			if v.Signed {
				val = uint64(int32(val))
			}
			v.Values = append(v.Values, btf.EnumValue{Name: s.str(bo.Uint32(e)), Value: val})
		}
	case *btf.Typedef:
		v.Type = ref(sizeType)
	case *btf.Volatile:
		v.Type = ref(sizeType)
	case *btf.Const:
		v.Type = ref(sizeType)
	case *btf.Restrict:
		v.Type = ref(sizeType)
	case *btf.TypeTag:
		v.Type = ref(sizeType)
	case *btf.Func:
		v.Type = ref(sizeType)
	case *btf.FuncProto:
		v.Params = make([]btf.FuncParam, 0, vlen)
		for j := range vlen {
			p := aux[8*j:]
			v.Params = append(v.Params, btf.FuncParam{Name: s.str(bo.Uint32(p)), Type: ref(bo.Uint32(p[4:]))})
		}
		v.Return = ref(sizeType)
	case *btf.Var:
		v.Type = ref(sizeType)
	case *btf.Datasec:
		v.Vars = make([]btf.VarSecinfo, 0, vlen)
		for j := range vlen {
			e := aux[12*j:]
			v.Vars = append(v.Vars, btf.VarSecinfo{Type: ref(bo.Uint32(e)), Offset: bo.Uint32(e[4:]), Size: bo.Uint32(e[8:])})
		}
	}
	id := s.first + btf.TypeID(i)
	for _, tag := range s.tags[id] {
		s.applyTag(id, t, tag)
	}
}

// members decodes a struct or union's members. With the kind flag the
// member offset carries the bitfield size in its top byte; without it a
// member of an integer type whose own offset or width differs from its size
// is a bitfield the old way (btf_int offset and bits).
func (d *decoder) members(s *Spec, aux []byte, vlen int, bitfield bool) []btf.Member {
	bo := s.bo
	ms := make([]btf.Member, 0, vlen)
	for j := range vlen {
		e := aux[12*j:]
		typ, off := bo.Uint32(e[4:]), bo.Uint32(e[8:])
		m := btf.Member{Name: s.str(bo.Uint32(e)), Type: d.ref(s, btf.TypeID(typ)), Offset: btf.Bits(off)}
		if bitfield {
			m.BitfieldSize = btf.Bits(off >> 24)
			m.Offset &= 0xffffff
		} else if typ != 0 {
			if _, _, kind, _, size, iaux := s.rec(btf.TypeID(typ)); kind == kindInt {
				enc := bo.Uint32(iaux)
				ioff, bits := enc>>16&0xff, enc&0xff
				if ioff > 0 || bits/8 != size {
					m.Offset += btf.Bits(ioff)
					m.BitfieldSize = btf.Bits(bits)
				}
			}
		}
		ms = append(ms, m)
	}
	return ms
}

// applyTag adds decl tag tag (checked by checkTags) to t, type target.
func (s *Spec) applyTag(target btf.TypeID, t btf.Type, tag btf.TypeID) {
	r := s.types[s.offs[tag-s.first]:]
	value := s.str(s.bo.Uint32(r))
	comp := int(int32(s.bo.Uint32(r[typeLen:])))
	switch v := t.(type) {
	case *btf.Var:
		v.Tags = append(v.Tags, value)
	case *btf.Typedef:
		v.Tags = append(v.Tags, value)
	case *btf.Struct:
		if comp >= 0 {
			v.Members[comp].Tags = append(v.Members[comp].Tags, value)
		} else {
			v.Tags = append(v.Tags, value)
		}
	case *btf.Union:
		if comp >= 0 {
			v.Members[comp].Tags = append(v.Members[comp].Tags, value)
		} else {
			v.Tags = append(v.Tags, value)
		}
	case *btf.Func:
		if comp < 0 {
			v.Tags = append(v.Tags, value)
			return
		}
		if len(v.ParamTags) == 0 {
			_, _, _, _, proto, _ := s.rec(target)
			_, _, _, params, _, _ := s.rec(btf.TypeID(proto))
			v.ParamTags = make([][]string, params)
		}
		v.ParamTags[comp] = append(v.ParamTags[comp], value)
	}
}
