package unwind

import (
	"encoding/binary"
	"sort"

	"github.com/panicscope/panicscope/vmcore/kernel/symbols"
	"github.com/panicscope/panicscope/vmcore/vmem"
)

// A synthetic kernel for unit tests and fuzzing: text at synthText, the ORC
// arrays at synthORC, stacks wherever the test maps them.
const (
	synthText    = 0xffffffff81000000
	synthTextLen = 0x10000
	synthORC     = 0xffffffff82000000
	synthLookup  = 0xffffffff83000000
	synthStack   = 0xffffc90000004000
	synthIRQ     = 0xffffc90000100000
	funcSize     = 0x100
)

// fn is the address of synthetic function i.
func fn(i int) uint64 { return synthText + uint64(i)*funcSize }

// encodeEntry is the inverse of DecodeEntry (Entry.Type in the 6.4+
// numbering).
func encodeEntry(e Entry, l Layout) []byte {
	b := make([]byte, EntrySize)
	binary.LittleEndian.PutUint16(b[0:], uint16(e.SPOffset))
	binary.LittleEndian.PutUint16(b[2:], uint16(e.BPOffset))
	f := uint16(e.SPReg&0xf) | uint16(e.BPReg&0xf)<<4
	switch l {
	case LayoutV3:
		f |= uint16(e.Type&7) << 8
		if e.Signal {
			f |= 1 << 11
		}
	default:
		var t, end uint16
		switch e.Type {
		case TypeEndOfStack:
			end = 1
		case TypeCall:
			t = 0
		case TypeRegs:
			t = 1
		case TypeRegsPartial:
			t = 2
		}
		if l == LayoutV2 {
			f |= t<<8 | end<<11
			if e.Signal {
				f |= 1 << 10
			}
		} else {
			f |= t<<8 | end<<10
		}
	}
	binary.LittleEndian.PutUint16(b[4:], f)
	return b
}

type orcAt struct {
	ip uint64
	e  Entry
}

// synth is a synthetic kernel under construction.
type synth struct {
	mem     *vmem.Fake
	layout  Layout
	regs    RegNumbering // the kernel's register numbering; entries are given in RegsV1's
	entries []orcAt
	text    []byte
	nfuncs  int
	lookup  bool
}

func newSynth(l Layout, nfuncs int) *synth {
	return &synth{mem: &vmem.Fake{}, layout: l, text: make([]byte, synthTextLen), nfuncs: nfuncs, lookup: true}
}

// orc adds an entry starting at ip.
func (s *synth) orc(ip uint64, e Entry) { s.entries = append(s.entries, orcAt{ip, e}) }

// call puts a direct call (E8 rel32) to target so that it returns to ret.
func (s *synth) call(ret, target uint64) {
	off := ret - 5 - synthText
	s.text[off] = 0xe8
	binary.LittleEndian.PutUint32(s.text[off+1:], uint32(int32(int64(target-ret))))
}

// build maps text and the ORC arrays and returns the table and symbols.
func (s *synth) build() (*Table, *symbols.Table) {
	sort.SliceStable(s.entries, func(i, j int) bool { return s.entries[i].ip < s.entries[j].ip })
	n := len(s.entries)
	ipTab := make([]byte, 4*n)
	orcTab := make([]byte, EntrySize*n)
	for i, x := range s.entries {
		at := uint64(synthORC) + 4*uint64(i)
		binary.LittleEndian.PutUint32(ipTab[4*i:], uint32(int32(int64(x.ip-at))))
		copy(orcTab[EntrySize*i:], encodeEntry(fromV1(x.e, s.regs), s.layout))
	}
	orcStart := uint64(synthORC) + uint64(len(ipTab)) + 16
	s.mem.Map(synthText, s.text)
	s.mem.Map(synthORC, ipTab)
	s.mem.Map(orcStart, orcTab)
	t := &Table{Mem: s.mem, Layout: s.layout, Regs: s.regs, IPStart: synthORC, ORCStart: orcStart, Num: uint64(n),
		TextStart: synthText, TextEnd: synthText + synthTextLen}
	if s.lookup && n > 0 {
		// unwind_init(): orc_lookup[i] is the entry for _stext + 256*i.
		blocks := synthTextLen/LookupBlockSize + 1
		lk := make([]byte, 4*blocks)
		for i := 0; i < blocks; i++ {
			ip := uint64(synthText) + uint64(i)*LookupBlockSize
			j := sort.Search(n, func(k int) bool { return s.entries[k].ip > ip }) - 1
			if j < 0 {
				j = 0
			}
			binary.LittleEndian.PutUint32(lk[4*i:], uint32(j))
		}
		s.mem.Map(synthLookup, lk)
		t.Lookup, t.LookupBlocks = synthLookup, uint64(blocks)
	}
	var syms []symbols.Symbol
	for i := 0; i < s.nfuncs; i++ {
		syms = append(syms, symbols.Symbol{Name: funcName(i), Addr: fn(i), Size: funcSize, Type: 't'})
	}
	return t, symbols.New("synthetic", syms)
}

// fromV1 writes an entry's registers in numbering n (the inverse of toV1).
func fromV1(e Entry, n RegNumbering) Entry {
	if n != RegsV2 {
		return e
	}
	for v2, v1 := range regsV2 {
		if v1 == e.SPReg && v1 != regUnknown {
			e.SPReg = uint8(v2)
			break
		}
	}
	for v2, v1 := range regsV2 {
		if v1 == e.BPReg && v1 != regUnknown {
			e.BPReg = uint8(v2)
			break
		}
	}
	return e
}

func funcName(i int) string { return "f" + string(rune('a'+i%26)) + string(rune('0'+i/26%10)) }

// stack builds a stack image of words from begin.
type stackImage struct {
	begin uint64
	words []uint64
}

func newStack(begin uint64, size int) *stackImage {
	return &stackImage{begin: begin, words: make([]uint64, size/8)}
}

func (s *stackImage) set(addr, v uint64) { s.words[(addr-s.begin)/8] = v }
func (s *stackImage) end() uint64        { return s.begin + 8*uint64(len(s.words)) }

func (s *stackImage) bytes() []byte {
	b := make([]byte, 8*len(s.words))
	for i, w := range s.words {
		binary.LittleEndian.PutUint64(b[8*i:], w)
	}
	return b
}
