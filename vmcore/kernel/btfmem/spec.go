package btfmem

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sync"

	"github.com/cilium/ebpf/btf"
)

// maxTypes bounds the number of types of one blob (vmlinux of a distribution
// kernel has ~100-150k).
const maxTypes = 1 << 21

// BTF kinds (include/uapi/linux/btf.h).
const (
	kindInt       = 1
	kindPtr       = 2
	kindArray     = 3
	kindStruct    = 4
	kindUnion     = 5
	kindEnum      = 6
	kindFwd       = 7
	kindTypedef   = 8
	kindVolatile  = 9
	kindConst     = 10
	kindRestrict  = 11
	kindFunc      = 12
	kindFuncProto = 13
	kindVar       = 14
	kindDatasec   = 15
	kindFloat     = 16
	kindDeclTag   = 17
	kindTypeTag   = 18
	kindEnum64    = 19
)

const (
	headerLen = 24 // struct btf_header up to str_len
	typeLen   = 12 // struct btf_type
)

// Spec is the BTF of vmlinux or of one module (split BTF on top of
// vmlinux's). It keeps the checked blob and decodes types on demand; a
// decoded type is kept, so asking again returns the same value. Safe for
// concurrent use.
type Spec struct {
	bo    binary.ByteOrder
	types []byte // type section
	strs  []byte // string section
	base  *Spec  // nil for vmlinux
	first btf.TypeID
	offs  []uint32 // offset in types of type first+i
	tags  map[btf.TypeID][]btf.TypeID
	named []uint32 // indexes of named types but functions and decl tags
	// anyDeclTag: some type of this blob is a decl tag (most have none).
	anyDeclTag bool

	mu    *sync.Mutex      // shared by a base and its split Specs: decoding one may decode the other
	cache map[int]btf.Type // decoded types by index (a report decodes a few thousand of 100k)
	names *nameIndex       // named types but functions, built on the first lookup by name
	funcs *nameIndex       // functions, built on the first lookup that needs them
}

// Parse checks a raw vmlinux BTF blob. Types are decoded on first use.
func Parse(blob []byte) (*Spec, error) {
	s, err := parse(blob, nil)
	if err != nil {
		return nil, fmt.Errorf("btfmem: %w", err)
	}
	return s, nil
}

// ParseSplit checks a split BTF blob on top of base.
func ParseSplit(blob []byte, base *Spec) (*Spec, error) {
	if base == nil {
		return nil, errors.New("btfmem: split BTF needs a base")
	}
	if base.base != nil {
		return nil, errors.New("btfmem: split BTF cannot be a base")
	}
	s, err := parse(blob, base)
	if err != nil {
		return nil, fmt.Errorf("btfmem: split: %w", err)
	}
	return s, nil
}

// end is one past the last type ID of s.
func (s *Spec) end() btf.TypeID { return s.first + btf.TypeID(len(s.offs)) }

// strBase is the offset at which s's own strings start (split BTF string
// offsets continue the base's table).
func (s *Spec) strBase() uint32 {
	if s.base == nil {
		return 0
	}
	return uint32(len(s.base.strs))
}

func bad(format string, args ...any) error {
	return fmt.Errorf(format+": %w", append(args, ErrBadBTF)...)
}

// parse checks everything that decoding a type reads, so that decoding
// cannot fail: the header and section bounds, every type record, kind and
// reference, every name offset, and each decl tag's target.
func parse(blob []byte, base *Spec) (*Spec, error) {
	if len(blob) < headerLen {
		return nil, bad("%d bytes, shorter than a BTF header", len(blob))
	}
	var bo binary.ByteOrder
	switch {
	case blob[0] == 0x9f && blob[1] == 0xeb:
		bo = binary.LittleEndian
	case blob[0] == 0xeb && blob[1] == 0x9f:
		bo = binary.BigEndian
	default:
		return nil, bad("magic %#02x%02x is not 0xeb9f", blob[1], blob[0])
	}
	if blob[2] != 1 {
		return nil, bad("version %d, want 1", blob[2])
	}
	if blob[3] != 0 {
		return nil, bad("flags %#x, want 0", blob[3])
	}
	if base != nil && base.bo != bo {
		return nil, bad("byte order differs from the base's")
	}
	hdrLen := uint64(bo.Uint32(blob[4:]))
	typeOff, typeSize := uint64(bo.Uint32(blob[8:])), uint64(bo.Uint32(blob[12:]))
	strOff, strSize := uint64(bo.Uint32(blob[16:])), uint64(bo.Uint32(blob[20:]))
	if hdrLen < headerLen || hdrLen > uint64(len(blob)) {
		return nil, bad("header length %d out of bounds", hdrLen)
	}
	body := blob[hdrLen:]
	if typeOff+typeSize > uint64(len(body)) {
		return nil, bad("type section %d+%d out of bounds", typeOff, typeSize)
	}
	if strOff+strSize > uint64(len(body)) {
		return nil, bad("string section %d+%d out of bounds", strOff, strSize)
	}
	strs := body[strOff : strOff+strSize]
	if len(strs) > 0 && strs[len(strs)-1] != 0 {
		return nil, bad("string section is not NUL-terminated")
	}
	if base == nil && len(strs) > 0 && strs[0] != 0 {
		return nil, bad("string section does not start with the empty string")
	}
	s := &Spec{bo: bo, types: body[typeOff : typeOff+typeSize], strs: strs, base: base, first: 1}
	if base != nil {
		s.first = base.end()
		s.mu = base.mu
	} else {
		s.mu = new(sync.Mutex)
	}
	if err := s.scan(); err != nil {
		return nil, err
	}
	s.cache = map[int]btf.Type{}
	return s, nil
}

// dataLen is the size of the record that follows a struct btf_type of kind
// with vlen entries, or -1 for an unknown kind.
func dataLen(kind uint32, vlen int) int {
	switch kind {
	case kindInt, kindVar, kindDeclTag:
		return 4
	case kindPtr, kindFwd, kindTypedef, kindVolatile, kindConst, kindRestrict, kindFunc, kindFloat, kindTypeTag:
		return 0
	case kindArray:
		return 12
	case kindStruct, kindUnion, kindDatasec, kindEnum64:
		return 12 * vlen
	case kindEnum, kindFuncProto:
		return 8 * vlen
	}
	return -1
}

// scan records each type's offset and checks it.
func (s *Spec) scan() error {
	types, bo := s.types, s.bo
	// The smallest record is 12 bytes: that bounds the count before any
	// allocation grows with it.
	if len(types)/typeLen > maxTypes {
		return bad("type section of %d bytes holds more than %d types", len(types), maxTypes)
	}
	// Room for the most records the section can hold: the tail never
	// touched costs no memory, and nothing is copied while growing.
	s.offs = make([]uint32, 0, len(types)/typeLen+1)
	strEnd := s.strBase() + uint32(len(s.strs))
	var worst uint32 // the largest reference, MaxUint32 for a bad name
	for off := 0; off < len(types); {
		id := s.first + btf.TypeID(len(s.offs))
		if len(types)-off < typeLen {
			return bad("type %d: truncated at offset %d", id, off)
		}
		info := bo.Uint32(types[off+4:])
		kind, vlen := info>>24&0x1f, int(info&0xffff)
		n := dataLen(kind, vlen)
		if n < 0 {
			return bad("type %d: unknown kind %d", id, kind)
		}
		if n > len(types)-off-typeLen {
			return bad("type %d: truncated", id)
		}
		rec := types[off : off+typeLen+n]
		nameOff := bo.Uint32(rec)
		if nameOff != 0 && kind != kindFunc && kind != kindDeclTag {
			s.named = append(s.named, uint32(len(s.offs)))
		}
		s.offs = append(s.offs, uint32(off))
		s.anyDeclTag = s.anyDeclTag || kind == kindDeclTag
		if r := quickCheck(bo, rec, kind, vlen, strEnd); r > worst {
			worst = r
		}
		off += typeLen + n
	}
	// A second, precise pass only when the quick one saw something to
	// report (an out-of-bounds name is a reference past the last type) or
	// decl tags to look for among references.
	last := s.end()
	if uint64(worst) >= uint64(last) || s.anyDeclTag || s.base != nil && s.base.anyDeclTag {
		for i, off := range s.offs {
			id := s.first + btf.TypeID(i)
			if err := s.checkType(id, off, last); err != nil {
				return bad("type %d: %v", id, err)
			}
		}
	}
	return s.checkTags()
}

// quickCheck is the largest type ID a record of kind refers to, or
// MaxUint32 when one of its names is out of bounds (strEnd is one past the
// last string offset): checkType's checks without their messages, in the
// one pass that finds the records.
func quickCheck(bo binary.ByteOrder, rec []byte, kind uint32, vlen int, strEnd uint32) uint32 {
	const fail = math.MaxUint32
	bad := func(name uint32) bool { return name != 0 && name >= strEnd }
	if bad(bo.Uint32(rec)) {
		return fail
	}
	typ, aux := bo.Uint32(rec[8:]), rec[typeLen:]
	switch kind {
	case kindPtr, kindTypedef, kindVolatile, kindConst, kindRestrict, kindFunc, kindTypeTag, kindVar, kindDeclTag:
		return typ
	case kindArray:
		return max(bo.Uint32(aux), bo.Uint32(aux[4:]))
	case kindStruct, kindUnion:
		m := uint32(0)
		for i := range vlen {
			e := aux[12*i:]
			if bad(bo.Uint32(e)) {
				return fail
			}
			m = max(m, bo.Uint32(e[4:]))
		}
		return m
	case kindEnum, kindFuncProto:
		m := uint32(0)
		for i := range vlen {
			e := aux[8*i:]
			if bad(bo.Uint32(e)) {
				return fail
			}
			if kind == kindFuncProto {
				m = max(m, bo.Uint32(e[4:]))
			}
		}
		if kind == kindFuncProto {
			m = max(m, typ)
		}
		return m
	case kindEnum64:
		for i := range vlen {
			if bad(bo.Uint32(aux[12*i:])) {
				return fail
			}
		}
	case kindDatasec:
		m := uint32(0)
		for i := range vlen {
			m = max(m, bo.Uint32(aux[12*i:]))
		}
		return m
	}
	return 0
}

// checkType checks one record's names and references (ids below last).
func (s *Spec) checkType(id btf.TypeID, off uint32, last btf.TypeID) error {
	bo := s.bo
	rec := s.types[off:]
	info, typ := bo.Uint32(rec[4:]), bo.Uint32(rec[8:])
	kind, vlen := info>>24&0x1f, int(info&0xffff)
	aux := rec[typeLen:]
	if err := s.checkName(bo.Uint32(rec)); err != nil {
		return err
	}
	ref := func(r uint32) error { return s.checkRef(r, last) }
	switch kind {
	case kindPtr, kindTypedef, kindVolatile, kindConst, kindRestrict, kindFunc, kindTypeTag, kindVar:
		return ref(typ)
	case kindDeclTag:
		if btf.TypeID(typ) >= last {
			return fmt.Errorf("decl tag of type %d beyond the last (%d)", typ, last-1)
		}
	case kindArray:
		if err := ref(bo.Uint32(aux[4:])); err != nil {
			return err
		}
		return ref(bo.Uint32(aux))
	case kindStruct, kindUnion:
		for i := range vlen {
			m := aux[12*i:]
			if err := s.checkName(bo.Uint32(m)); err != nil {
				return err
			}
			if err := ref(bo.Uint32(m[4:])); err != nil {
				return err
			}
		}
	case kindEnum:
		for i := range vlen {
			if err := s.checkName(bo.Uint32(aux[8*i:])); err != nil {
				return err
			}
		}
	case kindEnum64:
		for i := range vlen {
			if err := s.checkName(bo.Uint32(aux[12*i:])); err != nil {
				return err
			}
		}
	case kindFuncProto:
		for i := range vlen {
			p := aux[8*i:]
			if err := s.checkName(bo.Uint32(p)); err != nil {
				return err
			}
			if err := ref(bo.Uint32(p[4:])); err != nil {
				return err
			}
		}
		return ref(typ)
	case kindDatasec:
		for i := range vlen {
			if err := ref(bo.Uint32(aux[12*i:])); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkRef checks a reference: below last, and not to a decl tag (which
// cilium would decode as a type of its own that btfmem does not expose).
func (s *Spec) checkRef(r uint32, last btf.TypeID) error {
	if btf.TypeID(r) >= last {
		return fmt.Errorf("reference to type %d beyond the last (%d)", r, last-1)
	}
	if r != 0 && (s.anyDeclTag || s.base != nil && s.base.anyDeclTag) && s.kind(btf.TypeID(r)) == kindDeclTag {
		return fmt.Errorf("reference to decl tag %d", r)
	}
	return nil
}

// checkName checks a string offset: inside the base's or this blob's table
// (both end with NUL). An offset into the middle of a string names its
// tail; not checking that spares a cache miss per name.
func (s *Spec) checkName(off uint32) error {
	if off != 0 && off >= s.strBase()+uint32(len(s.strs)) {
		return fmt.Errorf("name offset %d out of bounds", off)
	}
	return nil
}

// strTable is the table holding string offset off, and off within it.
func (s *Spec) strTable(off uint32) ([]byte, uint32) {
	if s.base != nil {
		if n := uint32(len(s.base.strs)); off < n {
			return s.base.strs, off
		}
		return s.strs, off - s.strBase()
	}
	return s.strs, off
}

// strBytes is the string at a checked offset, in the blob.
func (s *Spec) strBytes(off uint32) []byte {
	if off == 0 {
		return nil
	}
	tab, o := s.strTable(off)
	tab = tab[o:]
	if e := bytes.IndexByte(tab, 0); e >= 0 {
		return tab[:e]
	}
	return tab // not reached: checked tables end with NUL
}

// str is the string at a checked offset, copied out of the blob (only
// decoded types' names are).
func (s *Spec) str(off uint32) string { return string(s.strBytes(off)) }

// owner is the Spec holding id (s or its base) and id's index there; ok is
// false for void and unknown IDs.
func (s *Spec) owner(id btf.TypeID) (*Spec, int, bool) {
	if id < s.first {
		if s.base != nil {
			return s.base.owner(id)
		}
		return nil, 0, false
	}
	i := int(id - s.first)
	if i >= len(s.offs) {
		return nil, 0, false
	}
	return s, i, true
}

// rec is the record of a known id: its owner and header fields.
func (s *Spec) rec(id btf.TypeID) (o *Spec, i int, kind uint32, vlen int, sizeType uint32, aux []byte) {
	o, i, _ = s.owner(id)
	r := o.types[o.offs[i]:]
	info := o.bo.Uint32(r[4:])
	return o, i, info >> 24 & 0x1f, int(info & 0xffff), o.bo.Uint32(r[8:]), r[typeLen:]
}

// kind of a known, non-void id (its offset was recorded).
func (s *Spec) kind(id btf.TypeID) uint32 {
	o, i, ok := s.owner(id)
	if !ok {
		return 0
	}
	return o.bo.Uint32(o.types[o.offs[i]+4:]) >> 24 & 0x1f
}

// checkTags indexes this blob's decl tags by the type they annotate and
// checks each the way cilium's inflateType applies them: a Var or Typedef
// takes only a tag on itself (component -1), a struct or union one on
// itself or on a member, a Func one on itself or on a parameter of its
// FuncProto. A tag on a base type is never applied (decoding a base type
// does not look at module tags), as in cilium.
func (s *Spec) checkTags() error {
	for i, off := range s.offs {
		r := s.types[off:]
		if s.bo.Uint32(r[4:])>>24&0x1f != kindDeclTag {
			continue
		}
		id := s.first + btf.TypeID(i)
		target := btf.TypeID(s.bo.Uint32(r[8:]))
		if target < s.first {
			continue
		}
		comp := int(int32(s.bo.Uint32(r[typeLen:])))
		_, _, kind, vlen, sizeType, _ := s.rec(target)
		switch kind {
		case kindVar, kindTypedef:
			if comp != -1 {
				return bad("decl tag %d: component %d of a %s", id, comp, kindName(kind))
			}
		case kindStruct, kindUnion:
			if comp < -1 || comp >= vlen {
				return bad("decl tag %d: component %d of a %d-member %s", id, comp, vlen, kindName(kind))
			}
		case kindFunc:
			proto := btf.TypeID(sizeType)
			if proto == 0 || s.kind(proto) != kindFuncProto {
				return bad("decl tag %d: func %d has no prototype", id, target)
			}
			_, _, _, params, _, _ := s.rec(proto)
			if comp < -1 || comp >= params {
				return bad("decl tag %d: component %d of a %d-parameter function", id, comp, params)
			}
		default:
			return bad("decl tag %d on a %s", id, kindName(kind))
		}
		if s.tags == nil {
			s.tags = map[btf.TypeID][]btf.TypeID{}
		}
		s.tags[target] = append(s.tags[target], id)
	}
	return nil
}

func kindName(k uint32) string {
	names := [...]string{"void", "int", "pointer", "array", "struct", "union", "enum", "fwd", "typedef",
		"volatile", "const", "restrict", "func", "func proto", "var", "datasec", "float", "decl tag", "type tag", "enum64"}
	if int(k) < len(names) {
		return names[k]
	}
	return fmt.Sprintf("kind %d", k)
}
