package btfmem

import (
	"hash/maphash"
	"math/bits"
	"slices"

	"github.com/cilium/ebpf/btf"
)

// nameIndex finds the types of one name: an open-addressing hash table of
// type indexes (linear probing), with a hash fragment beside each to skip
// most string comparisons. Built in one pass without a per-name allocation.
type nameIndex struct {
	seed  maphash.Seed
	mask  uint32
	slots []uint32 // type index + 1; 0 is empty
	frags []uint32 // high half of the name's hash
}

// index returns the index of functions (funcs) or of the other named types
// but decl tags, building it on first use; s.mu is held.
func (s *Spec) index(funcs bool) *nameIndex {
	p := &s.names
	if funcs {
		p = &s.funcs
	}
	if *p != nil {
		return *p
	}
	var idx []uint32
	if funcs {
		for i, off := range s.offs {
			r := s.types[off:]
			if s.bo.Uint32(r) != 0 && s.bo.Uint32(r[4:])>>24&0x1f == kindFunc {
				idx = append(idx, uint32(i))
			}
		}
	} else {
		idx = s.named // found by scan
	}
	size := uint32(1) << bits.Len32(uint32(2*len(idx)+1)) // load factor at most 1/2
	ix := &nameIndex{seed: maphash.MakeSeed(), mask: size - 1, slots: make([]uint32, size), frags: make([]uint32, size)}
	for _, i := range idx {
		h := maphash.Bytes(ix.seed, s.strBytes(s.bo.Uint32(s.types[s.offs[i]:])))
		j := uint32(h) & ix.mask
		for ix.slots[j] != 0 {
			j = (j + 1) & ix.mask
		}
		ix.slots[j], ix.frags[j] = i+1, uint32(h>>32)
	}
	*p = ix
	return ix
}

// AnyTypesByName decodes every type of this Spec (not its base) named
// name, of any kind but decl tags, in ID order; nil when there is none.
func (s *Spec) AnyTypesByName(name string) []btf.Type { return s.lookup(name, true, true) }

// typesByName decodes the functions (funcs) or the other types named name,
// in ID order.
func (s *Spec) typesByName(name string, funcs bool) []btf.Type { return s.lookup(name, !funcs, funcs) }

func (s *Spec) lookup(name string, others, funcs bool) []btf.Type {
	if name == "" {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []int
	if others {
		ids = s.index(false).find(s, name, ids)
	}
	if funcs {
		ids = s.index(true).find(s, name, ids)
	}
	slices.Sort(ids)
	out := make([]btf.Type, 0, len(ids))
	for _, i := range ids {
		out = append(out, s.decode(s.first+btf.TypeID(i)))
	}
	return out
}

// find appends the indexes of the types named name.
func (ix *nameIndex) find(s *Spec, name string, ids []int) []int {
	h := maphash.String(ix.seed, name)
	for j := uint32(h) & ix.mask; ix.slots[j] != 0; j = (j + 1) & ix.mask {
		if ix.frags[j] != uint32(h>>32) {
			continue
		}
		i := int(ix.slots[j] - 1)
		if string(s.strBytes(s.bo.Uint32(s.types[s.offs[i]:]))) == name {
			ids = append(ids, i)
		}
	}
	return ids
}
