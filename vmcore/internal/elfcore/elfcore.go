// Package elfcore reads ELF64 x86_64 core files holding a machine's physical
// memory, as written by
//
//   - the kernel's /proc/vmcore and makedumpfile -E (kdump style): PT_LOADs
//     for the kernel text mapping (p_vaddr 0xffffffff8..., the same physical
//     pages again) plus direct-map PT_LOADs; makedumpfile drops filtered pages
//     by ending a PT_LOAD before each run of 256 or more excluded pages
//     (write_elf_pages_cyclic in makedumpfile.c): the run becomes the
//     segment's p_filesz < p_memsz tail and the next PT_LOAD starts after it.
//     Shorter runs stay in the file, so they read as present;
//   - QEMU dump-guest-memory (format=elf, paging=false): one PT_LOAD per guest
//     RAM block with physical addresses only.
//
// Program headers and notes are parsed here directly (not with debug/elf):
// every count and size is bounded by the file size or a fixed cap, so hostile
// input gives an error, never a panic or a huge allocation.
package elfcore

import (
	"container/heap"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sort"

	"github.com/panicscope/panicscope/vmcore/notes"
	"github.com/panicscope/panicscope/vmcore/phys"
)

// ErrNotELFCore is returned (possibly wrapped) when the input is not an ELF
// core file: no ELF magic, or an ELF file of another type (ET_EXEC for a
// vmlinux passed by mistake).
var ErrNotELFCore = errors.New("elfcore: not an ELF core file")

// ErrUnsupported is wrapped by the error for ELF cores this reader does not
// handle: ELFCLASS32, big-endian, or a machine other than EM_X86_64 and
// EM_AARCH64.
var ErrUnsupported = errors.New("elfcore: unsupported ELF core")

// Style tells which tool wrote the core.
type Style int

const (
	StyleUnknown Style = iota
	// StyleKdump: /proc/vmcore or makedumpfile -E: PT_LOADs carry kernel
	// virtual addresses (direct map and kernel text) besides p_paddr.
	StyleKdump
	// StyleQEMU: QEMU dump-guest-memory: "QEMU" CPU-state notes and/or
	// PT_LOADs with physical addresses only.
	StyleQEMU
)

func (s Style) String() string {
	switch s {
	case StyleKdump:
		return "kdump"
	case StyleQEMU:
		return "qemu"
	default:
		return "unknown"
	}
}

// Segment is one PT_LOAD program header.
type Segment struct {
	VAddr    uint64 // p_vaddr
	PAddr    uint64 // p_paddr
	FileSize uint64 // p_filesz: bytes present in the file
	MemSize  uint64 // p_memsz: bytes of memory the segment describes
	Offset   uint64 // p_offset
}

// ELF constants (elf.h); only what this reader checks.
const (
	ehdrSize     = 64 // sizeof(Elf64_Ehdr)
	phdrSize     = 56 // sizeof(Elf64_Phdr)
	shdrSize     = 64 // sizeof(Elf64_Shdr)
	elfClass64   = 2
	elfData2LSB  = 1
	etCore       = 4
	emX86_64     = 62
	emAArch64    = 183
	ptLoad       = 1
	ptNote       = 4
	pnXNum       = 0xffff // e_phnum escape: the count is in section header 0's sh_info
	maxPhnum     = 1 << 21
	maxNoteBytes = 64 << 20
	phdrChunk    = 256 << 10 // bytes of program headers read per ReadAt

	// kernelHalf is the lowest canonical kernel address with 5-level paging
	// (and below the 4-level kernel half 0xffff800000000000).
	kernelHalf = 0xff00000000000000
	// startKernelMap is __START_KERNEL_map (arch/x86/include/asm/page_64_types.h):
	// the kernel text mapping.
	startKernelMap = 0xffffffff80000000
)

// File is an opened ELF core. It is immutable after Open and safe for
// concurrent use when the underlying io.ReaderAt is (as io.ReaderAt requires).
type File struct {
	r    io.ReaderAt
	size uint64
	segs []Segment // PT_LOADs in file order
	info []segInfo // parallel to segs
	// pieces partition the covered physical addresses by the segment that
	// serves them (see lookup), sorted and disjoint: each read is a binary
	// search however many PT_LOADs overlap.
	pieces []piece
	notes  []notes.Note
	style  Style
}

// piece is [start, end) served by segment seg with coverage kind.
type piece struct {
	start, end uint64
	seg        int
	kind       int
}

type segInfo struct {
	dataEnd uint64 // PAddr + the part of FileSize actually in the file
	fileEnd uint64 // PAddr + FileSize
	memEnd  uint64 // PAddr + MemSize
	text    bool   // kernel text mapping (p_vaddr >= __START_KERNEL_map)
}

// Open parses the ELF header, program headers and all PT_NOTE segments of
// the core in r, which is size bytes long. Malformed notes are an error.
func Open(r io.ReaderAt, size int64) (*File, error) {
	if size < 0 {
		return nil, fmt.Errorf("elfcore: negative size %d", size)
	}
	var ident [4]byte
	if size < int64(len(ident)) {
		return nil, ErrNotELFCore
	}
	if err := readFull(r, ident[:], 0); err != nil {
		return nil, fmt.Errorf("elfcore: reading ELF magic: %w", err)
	}
	if string(ident[:]) != "\x7fELF" {
		return nil, ErrNotELFCore
	}
	if size < ehdrSize {
		return nil, fmt.Errorf("elfcore: file is %d bytes, shorter than an ELF64 header", size)
	}
	eh := make([]byte, ehdrSize)
	if err := readFull(r, eh, 0); err != nil {
		return nil, fmt.Errorf("elfcore: reading ELF header: %w", err)
	}
	if eh[4] != elfClass64 {
		return nil, fmt.Errorf("%w: ELF class %d (only ELFCLASS64)", ErrUnsupported, eh[4])
	}
	if eh[5] != elfData2LSB {
		return nil, fmt.Errorf("%w: ELF data encoding %d (only little-endian)", ErrUnsupported, eh[5])
	}
	le := binary.LittleEndian
	if t := le.Uint16(eh[16:]); t != etCore {
		return nil, fmt.Errorf("%w: e_type %d, want ET_CORE (%d)", ErrNotELFCore, t, etCore)
	}
	if m := le.Uint16(eh[18:]); m != emX86_64 && m != emAArch64 {
		return nil, fmt.Errorf("%w: e_machine %d (only EM_X86_64, EM_AARCH64)", ErrUnsupported, m)
	}
	// e_ehsize is not checked: QEMU 7.2 writes 8 there (sizeof a pointer).
	f := &File{r: r, size: uint64(size)}
	phoff := le.Uint64(eh[32:])
	shoff := le.Uint64(eh[40:])
	phentsize := uint64(le.Uint16(eh[54:]))
	phnum := uint64(le.Uint16(eh[56:]))
	shentsize := uint64(le.Uint16(eh[58:]))
	if phnum == pnXNum {
		// More than 0xfffe program headers (makedumpfile writes this for
		// many PT_LOADs): the real count is sh_info of section header 0.
		if shoff == 0 || shentsize < shdrSize || shoff > f.size || f.size-shoff < shdrSize {
			return nil, fmt.Errorf("elfcore: e_phnum is PN_XNUM but section header 0 is missing (e_shoff %#x)", shoff)
		}
		sh := make([]byte, shdrSize)
		if err := readFull(r, sh, int64(shoff)); err != nil {
			return nil, fmt.Errorf("elfcore: reading section header 0: %w", err)
		}
		phnum = uint64(le.Uint32(sh[44:]))
	}
	if phnum == 0 {
		return nil, errors.New("elfcore: ELF core without program headers")
	}
	if phentsize < phdrSize {
		return nil, fmt.Errorf("elfcore: e_phentsize %d, want %d", phentsize, phdrSize)
	}
	if phnum > maxPhnum {
		return nil, fmt.Errorf("elfcore: %d program headers (limit %d)", phnum, maxPhnum)
	}
	if phoff > f.size || (f.size-phoff)/phentsize < phnum {
		return nil, fmt.Errorf("elfcore: %d program headers at %#x do not fit in the %d-byte file", phnum, phoff, size)
	}
	var noteBytes uint64
	perChunk := max(1, phdrChunk/phentsize)
	chunk := make([]byte, min(phnum, perChunk)*phentsize)
	for first := uint64(0); first < phnum; first += perChunk {
		n := min(phnum-first, perChunk)
		buf := chunk[:n*phentsize]
		if err := readFull(r, buf, int64(phoff+first*phentsize)); err != nil {
			return nil, fmt.Errorf("elfcore: reading program headers: %w", err)
		}
		for i := uint64(0); i < n; i++ {
			ph := buf[i*phentsize:]
			idx := first + i
			typ := le.Uint32(ph[0:])
			s := Segment{
				Offset:   le.Uint64(ph[8:]),
				VAddr:    le.Uint64(ph[16:]),
				PAddr:    le.Uint64(ph[24:]),
				FileSize: le.Uint64(ph[32:]),
				MemSize:  le.Uint64(ph[40:]),
			}
			switch typ {
			case ptLoad:
				if err := f.addLoad(s, idx); err != nil {
					return nil, err
				}
			case ptNote:
				if s.FileSize == 0 {
					continue
				}
				if s.Offset > f.size || s.FileSize > f.size-s.Offset {
					return nil, fmt.Errorf("elfcore: PT_NOTE #%d (%#x bytes at %#x) beyond the end of the %d-byte file",
						idx, s.FileSize, s.Offset, size)
				}
				noteBytes += s.FileSize
				if noteBytes > maxNoteBytes {
					return nil, fmt.Errorf("elfcore: more than %d bytes of notes", maxNoteBytes)
				}
				blob := make([]byte, s.FileSize)
				if err := readFull(r, blob, int64(s.Offset)); err != nil {
					return nil, fmt.Errorf("elfcore: reading PT_NOTE #%d: %w", idx, err)
				}
				ns, err := notes.Parse(blob)
				if err != nil {
					return nil, fmt.Errorf("elfcore: PT_NOTE #%d: %w", idx, err)
				}
				f.notes = append(f.notes, ns...)
			}
		}
	}
	f.index()
	f.style = f.detectStyle()
	return f, nil
}

func (f *File) addLoad(s Segment, idx uint64) error {
	if s.FileSize > s.MemSize {
		return fmt.Errorf("elfcore: PT_LOAD #%d: p_filesz %#x > p_memsz %#x", idx, s.FileSize, s.MemSize)
	}
	if s.PAddr+s.MemSize < s.PAddr {
		return fmt.Errorf("elfcore: PT_LOAD #%d: p_paddr %#x + p_memsz %#x overflows", idx, s.PAddr, s.MemSize)
	}
	if s.Offset+s.FileSize < s.Offset {
		return fmt.Errorf("elfcore: PT_LOAD #%d: p_offset %#x + p_filesz %#x overflows", idx, s.Offset, s.FileSize)
	}
	// Data past the end of a truncated file is "beyond end", not an error.
	inFile := uint64(0)
	if s.Offset < f.size {
		inFile = min(s.FileSize, f.size-s.Offset)
	}
	f.segs = append(f.segs, s)
	f.info = append(f.info, segInfo{
		dataEnd: s.PAddr + inFile,
		fileEnd: s.PAddr + s.FileSize,
		memEnd:  s.PAddr + s.MemSize,
		text:    s.VAddr >= startKernelMap,
	})
	return nil
}

// index resolves the segments into pieces. Each segment offers up to three
// spans (its data in the file, the part of p_filesz the file lacks, the
// p_memsz tail), ranked as lookup prefers them; a sweep over the span
// starts with a min-heap of the spans covering the current address keeps,
// for each stretch, the best one: O(n log n) once, for any overlap.
func (f *File) index() {
	var spans []span
	for i, in := range f.info {
		p := f.segs[i].PAddr
		text := 0
		if in.text {
			text = 1
		}
		for k, end := range [...]uint64{kindData: in.dataEnd, kindTruncated: in.fileEnd, kindExcluded: in.memEnd} {
			if end > p {
				spans = append(spans, span{start: p, end: end, rank: uint64(k*2+text)<<32 | uint64(i)})
				p = end
			}
		}
	}
	sort.Slice(spans, func(a, b int) bool { return spans[a].start < spans[b].start })
	var h spanHeap
	f.pieces = nil
	var pos uint64
	for i := 0; i < len(spans) || len(h) > 0; {
		if len(h) == 0 {
			pos = max(pos, spans[i].start)
		}
		for i < len(spans) && spans[i].start <= pos {
			heap.Push(&h, spans[i])
			i++
		}
		for len(h) > 0 && h[0].end <= pos {
			heap.Pop(&h)
		}
		if len(h) == 0 {
			continue
		}
		top := h[0]
		next := top.end
		if i < len(spans) && spans[i].start < next {
			next = spans[i].start
		}
		seg, kind := int(top.rank&(1<<32-1)), int(top.rank>>33)
		if n := len(f.pieces); n > 0 && f.pieces[n-1].end == pos && f.pieces[n-1].seg == seg && f.pieces[n-1].kind == kind {
			f.pieces[n-1].end = next
		} else {
			f.pieces = append(f.pieces, piece{start: pos, end: next, seg: seg, kind: kind})
		}
		pos = next
	}
}

// span is one kind of coverage of [start, end) by a segment; rank orders
// spans the way lookup prefers them: kind, then direct map over kernel
// text, then file order (kind<<33 | text<<32 | segment index).
type span struct {
	start, end uint64
	rank       uint64
}

// spanHeap is a min-heap of spans by rank.
type spanHeap []span

func (h spanHeap) Len() int           { return len(h) }
func (h spanHeap) Less(i, j int) bool { return h[i].rank < h[j].rank }
func (h spanHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *spanHeap) Push(x any)        { *h = append(*h, x.(span)) }
func (h *spanHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// detectStyle: a "QEMU" note means QEMU wrote the core (also with
// paging=true, whose PT_LOADs carry virtual addresses); otherwise kernel
// virtual addresses mean /proc/vmcore or makedumpfile, and PT_LOADs whose
// p_vaddr is p_paddr or 0 mean QEMU paging=false.
func (f *File) detectStyle() Style {
	for _, n := range f.notes {
		if n.Name == notes.NameQEMU {
			return StyleQEMU
		}
	}
	physical := len(f.segs) > 0
	for _, s := range f.segs {
		if s.VAddr >= kernelHalf {
			return StyleKdump
		}
		if s.VAddr != s.PAddr && s.VAddr != 0 {
			physical = false
		}
	}
	if physical {
		return StyleQEMU
	}
	return StyleUnknown
}

// Kinds of coverage of an address by a segment, best first.
const (
	kindData      = iota // bytes in the file
	kindTruncated        // within p_filesz, but the file ends before
	kindExcluded         // within p_memsz, past p_filesz
)

// lookup finds the segment that serves addr: among all segments whose
// [p_paddr, p_paddr+p_memsz) holds addr, one with the bytes in the file wins,
// then a direct-map/physical one over the kernel-text one, then the first in
// file order. It returns the segment index, the kind of coverage and the end
// of the run of addresses served the same way (exclusive), or -1.
func (f *File) lookup(addr uint64) (seg, kind int, end uint64) {
	i := sort.Search(len(f.pieces), func(k int) bool { return f.pieces[k].end > addr })
	if i == len(f.pieces) || f.pieces[i].start > addr {
		return -1, 0, 0
	}
	p := &f.pieces[i]
	return p.seg, p.kind, p.end
}

// ReadPhys fills buf with physical memory from paddr, crossing segments. An
// address in no PT_LOAD is phys.NotInDump, one inside p_memsz but past
// p_filesz (filtered by makedumpfile) phys.Excluded, and one whose data lies
// past the end of a truncated file phys.BeyondEnd; the *phys.MissingError
// names the first such byte.
func (f *File) ReadPhys(buf []byte, paddr uint64) error {
	for len(buf) > 0 {
		si, kind, end := f.lookup(paddr)
		switch {
		case si < 0:
			return &phys.MissingError{Addr: paddr, Reason: phys.NotInDump}
		case kind == kindExcluded:
			return &phys.MissingError{Addr: paddr, Reason: phys.Excluded}
		case kind == kindTruncated:
			return &phys.MissingError{Addr: paddr, Reason: phys.BeyondEnd}
		}
		n := uint64(len(buf))
		if end-paddr < n {
			n = end - paddr
		}
		s := &f.segs[si]
		off := s.Offset + (paddr - s.PAddr) // < file size: within dataEnd
		m, err := f.r.ReadAt(buf[:n], int64(off))
		if uint64(m) < n {
			if err == nil || errors.Is(err, io.EOF) {
				return &phys.MissingError{Addr: paddr + uint64(m), Reason: phys.BeyondEnd}
			}
			return fmt.Errorf("elfcore: reading physical %#x at file offset %#x: %w", paddr+uint64(m), off+uint64(m), err)
		}
		buf = buf[n:]
		paddr += n
	}
	return nil
}

// Ranges lists the physical ranges whose bytes are in the file, sorted and
// merged; excluded tails and truncated parts are left out.
func (f *File) Ranges() []phys.Range {
	var rs []phys.Range
	for i, s := range f.segs {
		if f.info[i].dataEnd > s.PAddr {
			rs = append(rs, phys.Range{Start: s.PAddr, End: f.info[i].dataEnd})
		}
	}
	sort.Slice(rs, func(a, b int) bool { return rs[a].Start < rs[b].Start })
	var out []phys.Range
	for _, r := range rs {
		if n := len(out); n > 0 && r.Start <= out[n-1].End {
			out[n-1].End = max(out[n-1].End, r.End)
			continue
		}
		out = append(out, r)
	}
	return out
}

// Cut describes a core file shorter than its program headers say.
type Cut struct {
	FileSize     int64
	NeedAtLeast  int64  // the furthest p_offset + p_filesz
	FirstMissing uint64 // lowest physical address whose bytes lie past the end
	MissingBytes uint64 // physical bytes that read as beyond the end
}

// Cut says how the file is cut short; ok is false when every PT_LOAD's
// data is in the file.
func (f *File) Cut() (c Cut, ok bool) {
	c.FileSize = int64(f.size)
	for _, s := range f.segs {
		c.NeedAtLeast = max(c.NeedAtLeast, int64(min(s.Offset+s.FileSize, 1<<63-1)))
	}
	for _, p := range f.pieces {
		if p.kind == kindTruncated {
			if !ok {
				c.FirstMissing, ok = p.start, true
			}
			c.MissingBytes += p.end - p.start
		}
	}
	return c, ok
}

// Segments returns the PT_LOAD program headers in file order.
func (f *File) Segments() []Segment { return append([]Segment(nil), f.segs...) }

// Notes returns the notes of all PT_NOTE segments in file order. The
// descriptors are shared: callers must not modify them.
func (f *File) Notes() []notes.Note { return append([]notes.Note(nil), f.notes...) }

// Style tells which kind of writer produced the core.
func (f *File) Style() Style { return f.style }

func readFull(r io.ReaderAt, buf []byte, off int64) error {
	n, err := r.ReadAt(buf, off)
	if n == len(buf) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
