package btfmem

import (
	"encoding/binary"
	"fmt"
)

// Limits for hostile blobs. cilium's decoder inflates a type by recursing
// into every type it refers to, about 2.5 KiB of goroutine stack per level,
// and a Go stack overflow cannot be recovered: a chain of a few hundred
// thousand typedefs would kill the process. check simulates that recursion
// for the order inflate uses and refuses blobs that would nest deeper than
// maxDepth. Debian 6.1 vmlinux BTF has ~100k types and nests 200 deep.
const (
	maxTypes = 1 << 21
	maxDepth = 10000
)

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

const headerLen = 24 // struct btf_header up to str_len

// check validates the header and type section of blob, whose first type has
// ID first (1 for vmlinux, the base's count for split BTF), and simulates
// inflating the types in ascending ID order. It returns the number of types.
func check(blob []byte, first uint32) (int, error) {
	if len(blob) < headerLen {
		return 0, fmt.Errorf("%d bytes, shorter than a BTF header: %w", len(blob), ErrBadBTF)
	}
	var bo binary.ByteOrder
	switch {
	case blob[0] == 0x9f && blob[1] == 0xeb:
		bo = binary.LittleEndian
	case blob[0] == 0xeb && blob[1] == 0x9f:
		bo = binary.BigEndian
	default:
		return 0, fmt.Errorf("magic %#02x%02x is not 0xeb9f: %w", blob[1], blob[0], ErrBadBTF)
	}
	hdrLen := uint64(bo.Uint32(blob[4:]))
	typeOff, typeLen := uint64(bo.Uint32(blob[8:])), uint64(bo.Uint32(blob[12:]))
	if hdrLen < headerLen || hdrLen > uint64(len(blob)) {
		return 0, fmt.Errorf("header length %d out of bounds: %w", hdrLen, ErrBadBTF)
	}
	body := blob[hdrLen:]
	if typeOff+typeLen > uint64(len(body)) {
		return 0, fmt.Errorf("type section %d+%d out of bounds: %w", typeOff, typeLen, ErrBadBTF)
	}
	types := body[typeOff : typeOff+typeLen]

	// Pass 1: type offsets, and references in the order cilium follows them
	// (unmarshal.go inflateType), stored flat: refs[start[i]:start[i+1]].
	var start []int32
	var refs []uint32
	var tags [][2]uint32 // {decl tag id, target id}
	for off := 0; off < len(types); {
		if len(start) >= maxTypes {
			return 0, fmt.Errorf("more than %d types: %w", maxTypes, ErrBadBTF)
		}
		if len(types)-off < 12 {
			return 0, fmt.Errorf("truncated type at offset %d: %w", off, ErrBadBTF)
		}
		id := first + uint32(len(start))
		info, typ := bo.Uint32(types[off+4:]), bo.Uint32(types[off+8:])
		kind, vlen := (info>>24)&0x1f, int(info&0xffff)
		aux := types[off+12:]
		start = append(start, int32(len(refs)))
		var dataLen int
		switch kind {
		case kindInt:
			dataLen = 4
		case kindPtr, kindTypedef, kindVolatile, kindConst, kindRestrict, kindFunc, kindTypeTag:
			refs = append(refs, typ)
		case kindArray:
			dataLen = 12
			if len(aux) >= 12 {
				refs = append(refs, bo.Uint32(aux[4:]), bo.Uint32(aux[0:])) // index, then element
			}
		case kindStruct, kindUnion:
			dataLen = 12 * vlen
			for i := 0; i < vlen && 12*i+12 <= len(aux); i++ {
				refs = append(refs, bo.Uint32(aux[12*i+4:]))
			}
		case kindEnum:
			dataLen = 8 * vlen
		case kindEnum64:
			dataLen = 12 * vlen
		case kindFwd, kindFloat:
		case kindFuncProto:
			dataLen = 8 * vlen
			for i := 0; i < vlen && 8*i+8 <= len(aux); i++ {
				refs = append(refs, bo.Uint32(aux[8*i+4:]))
			}
			refs = append(refs, typ)
		case kindVar:
			dataLen = 4
			refs = append(refs, typ)
		case kindDatasec:
			dataLen = 12 * vlen
			for i := 0; i < vlen && 12*i+12 <= len(aux); i++ {
				refs = append(refs, bo.Uint32(aux[12*i:]))
			}
		case kindDeclTag:
			dataLen = 4
			refs = append(refs, typ)
			tags = append(tags, [2]uint32{id, typ})
		default:
			return 0, fmt.Errorf("type %d: unknown kind %d: %w", id, kind, ErrBadBTF)
		}
		if dataLen > len(aux) {
			return 0, fmt.Errorf("type %d: truncated: %w", id, ErrBadBTF)
		}
		off += 12 + dataLen
	}
	n := len(start)
	start = append(start, int32(len(refs)))
	last := uint64(first) + uint64(n) // one past the last ID
	for _, r := range refs {
		if uint64(r) >= last {
			return 0, fmt.Errorf("reference to type %d beyond the last (%d): %w", r, last-1, ErrBadBTF)
		}
	}

	// Decl tags are inflated after the type they annotate (in ID order).
	tagStart := make([]int32, n+1)
	for _, t := range tags {
		if t[1] >= first {
			tagStart[t[1]-first+1]++
		}
	}
	for i := 1; i <= n; i++ {
		tagStart[i] += tagStart[i-1]
	}
	tagRefs := make([]uint32, tagStart[n])
	fill := append([]int32(nil), tagStart[:n]...)
	for _, t := range tags {
		if t[1] >= first {
			tagRefs[fill[t[1]-first]] = t[0]
			fill[t[1]-first]++
		}
	}

	// Pass 2: depth-first walk from each type in ascending ID order, marking
	// on entry like inflateType's d.types; base types (< first) and void are
	// already inflated.
	visited := make([]bool, n)
	type frame struct {
		idx  uint32 // type index (id - first)
		next int32  // next child position; refs then tags
	}
	var stack []frame
	for root := 0; root < n; root++ {
		if visited[root] {
			continue
		}
		visited[root] = true
		stack = append(stack[:0], frame{uint32(root), 0})
		for len(stack) > 0 {
			f := &stack[len(stack)-1]
			nRefs := start[f.idx+1] - start[f.idx]
			nTags := tagStart[f.idx+1] - tagStart[f.idx]
			if f.next >= nRefs+nTags {
				stack = stack[:len(stack)-1]
				continue
			}
			var child uint32
			if f.next < nRefs {
				child = refs[start[f.idx]+f.next]
			} else {
				child = tagRefs[tagStart[f.idx]+f.next-nRefs]
			}
			f.next++
			if child < first {
				continue
			}
			c := child - first
			if visited[c] {
				continue
			}
			visited[c] = true
			if len(stack) >= maxDepth {
				return 0, fmt.Errorf("type %d nests more than %d levels: %w", first+uint32(root), maxDepth, ErrBadBTF)
			}
			stack = append(stack, frame{c, 0})
		}
	}
	return n, nil
}
