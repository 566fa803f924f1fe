// Package kcore reads a running kernel's memory through /proc/kcore.
//
// /proc/kcore (fs/proc/kcore.c) is an ELF64 core whose PT_LOADs are laid out
// by kernel VIRTUAL address, one per entry of kclist_head: the kernel text
// mapping (KCORE_TEXT), vmalloc and modules (KCORE_VMALLOC), the direct map
// of each System RAM range (KCORE_RAM), vmemmap (KCORE_VMEMMAP) and remapped
// areas (KCORE_REMAP). read_kcore_iter()/read_kcore() serve a read at
// p_offset + (vaddr - p_vaddr) straight from the live kernel, so a virtual
// address is read without walking page tables. p_paddr is __pa() of the
// segment for KCORE_RAM, __pa_symbol() for KCORE_TEXT and -1 for the rest
// (elf_kcore_store_hdr()). Since Linux 4.19 ("proc/kcore: add vmcoreinfo
// note to /proc/kcore") the PT_NOTE segment also carries the VMCOREINFO note.
//
// Headers are parsed here directly: every count and size is bounded, so a
// hostile or truncated file gives an error, never a panic or a huge
// allocation.
package kcore

import (
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sort"

	"github.com/panicscope/panicscope/vmcore/notes"
	"github.com/panicscope/panicscope/vmcore/phys"
	"github.com/panicscope/panicscope/vmcore/vmem"
)

// NoPAddr is the p_paddr kcore writes for segments without a physical
// address (vmalloc, vmemmap, remap): (elf_addr_t)-1.
const NoPAddr = ^uint64(0)

// ErrNotKcore is returned (possibly wrapped) when the file is not an ELF64
// x86_64 core.
var ErrNotKcore = errors.New("kcore: not an ELF64 x86_64 core file")

// ErrNoVMCOREINFO is returned by VMCOREINFO-dependent callers when the note
// is absent (kernels before 4.19).
var ErrNoVMCOREINFO = errors.New("kcore: no VMCOREINFO note (added to /proc/kcore in Linux 4.19)")

// Segment is one PT_LOAD.
type Segment struct {
	VAddr  uint64 // p_vaddr: kernel virtual address
	PAddr  uint64 // p_paddr: physical address, NoPAddr when none
	Size   uint64 // p_memsz (== p_filesz for kcore)
	Offset uint64 // p_offset
}

// HasPhys reports whether the segment maps a known physical range.
func (s Segment) HasPhys() bool { return s.PAddr != NoPAddr }

const (
	ehdrSize    = 64
	phdrSize    = 56
	elfClass64  = 2
	elfData2LSB = 1
	etCore      = 4
	emX86_64    = 62
	emAArch64   = 183
	ptLoad      = 1
	ptNote      = 4
	// maxPhnum bounds e_phnum: kcore has one PT_LOAD per RAM range plus a
	// handful; e_phnum is a uint16 and kcore never uses the PN_XNUM escape.
	maxPhnum     = 0xffff
	maxNoteBytes = 64 << 20
)

// File is an open /proc/kcore (or a file laid out like one). It is
// immutable after Open and safe for concurrent use when r is.
type File struct {
	r       io.ReaderAt
	machine elf.Machine
	segs    []Segment // sorted by VAddr
	psegs   []Segment // segments with a physical address, sorted by PAddr
	notes   []notes.Note
}

// Open parses the ELF header, the program headers and the PT_NOTE segments
// of r. size is the file size as stat reports it; /proc/kcore reports the
// highest segment end, so it bounds p_offset + p_filesz. size <= 0 means
// unknown: no bound is checked (reads past the end then fail).
func Open(r io.ReaderAt, size int64) (*File, error) {
	eh := make([]byte, ehdrSize)
	if n, err := r.ReadAt(eh, 0); n < ehdrSize {
		if n == 0 && (err == nil || errors.Is(err, io.EOF)) {
			return nil, fmt.Errorf("%w: the file is empty", ErrNotKcore)
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("kcore: reading the ELF header: %w", err)
		}
		return nil, fmt.Errorf("%w: %d bytes, shorter than an ELF64 header", ErrNotKcore, n)
	}
	le := binary.LittleEndian
	switch {
	case string(eh[:4]) != "\x7fELF":
		return nil, fmt.Errorf("%w: no ELF magic", ErrNotKcore)
	case eh[4] != elfClass64 || eh[5] != elfData2LSB:
		return nil, fmt.Errorf("%w: class %d data %d, want ELF64 little-endian", ErrNotKcore, eh[4], eh[5])
	case le.Uint16(eh[16:]) != etCore:
		return nil, fmt.Errorf("%w: e_type %d, want ET_CORE", ErrNotKcore, le.Uint16(eh[16:]))
	case le.Uint16(eh[18:]) != emX86_64 && le.Uint16(eh[18:]) != emAArch64:
		return nil, fmt.Errorf("%w: e_machine %d, want EM_X86_64 or EM_AARCH64", ErrNotKcore, le.Uint16(eh[18:]))
	}
	phoff := le.Uint64(eh[32:])
	phentsize := uint64(le.Uint16(eh[54:]))
	phnum := uint64(le.Uint16(eh[56:]))
	if phnum == 0 {
		return nil, fmt.Errorf("%w: no program headers", ErrNotKcore)
	}
	if phentsize < phdrSize || phentsize > 4*phdrSize {
		return nil, fmt.Errorf("%w: e_phentsize %d, want %d", ErrNotKcore, phentsize, phdrSize)
	}
	if phnum > maxPhnum || phoff > 1<<40 {
		return nil, fmt.Errorf("%w: e_phnum %d at e_phoff %#x is implausible", ErrNotKcore, phnum, phoff)
	}
	if size > 0 && phoff+phnum*phentsize > uint64(size) {
		return nil, fmt.Errorf("%w: program headers end at %#x, past the file size %#x", ErrNotKcore, phoff+phnum*phentsize, size)
	}
	ph := make([]byte, phnum*phentsize)
	if err := readFull(r, ph, phoff); err != nil {
		return nil, fmt.Errorf("kcore: reading %d program headers: %w", phnum, err)
	}
	f := &File{r: r, machine: elf.Machine(le.Uint16(eh[18:]))}
	var noteBytes uint64
	for i := uint64(0); i < phnum; i++ {
		p := ph[i*phentsize:]
		typ := le.Uint32(p)
		off, vaddr, paddr := le.Uint64(p[8:]), le.Uint64(p[16:]), le.Uint64(p[24:])
		filesz, memsz := le.Uint64(p[32:]), le.Uint64(p[40:])
		if off+filesz < off || (size > 0 && off+filesz > uint64(size)) {
			return nil, fmt.Errorf("%w: program header %d: offset %#x + size %#x is past the file size %#x", ErrNotKcore, i, off, filesz, size)
		}
		switch typ {
		case ptNote:
			noteBytes += filesz
			if noteBytes > maxNoteBytes {
				return nil, fmt.Errorf("%w: more than %d bytes of notes", ErrNotKcore, maxNoteBytes)
			}
			raw := make([]byte, filesz)
			if err := readFull(r, raw, off); err != nil {
				return nil, fmt.Errorf("kcore: reading notes: %w", err)
			}
			ns, err := notes.Parse(raw)
			if err != nil {
				return nil, fmt.Errorf("kcore: %w", err)
			}
			f.notes = append(f.notes, ns...)
		case ptLoad:
			if filesz != memsz {
				return nil, fmt.Errorf("%w: program header %d: p_filesz %#x != p_memsz %#x (kcore segments are whole)", ErrNotKcore, i, filesz, memsz)
			}
			if filesz == 0 {
				continue
			}
			if vaddr+filesz < vaddr {
				return nil, fmt.Errorf("%w: program header %d: %#x + %#x wraps", ErrNotKcore, i, vaddr, filesz)
			}
			f.segs = append(f.segs, Segment{VAddr: vaddr, PAddr: paddr, Size: filesz, Offset: off})
		}
	}
	if len(f.segs) == 0 {
		return nil, fmt.Errorf("%w: no PT_LOAD segments", ErrNotKcore)
	}
	sort.SliceStable(f.segs, func(a, b int) bool { return f.segs[a].VAddr < f.segs[b].VAddr })
	for _, s := range f.segs {
		if s.HasPhys() && s.PAddr+s.Size > s.PAddr {
			f.psegs = append(f.psegs, s)
		}
	}
	sort.SliceStable(f.psegs, func(a, b int) bool { return f.psegs[a].PAddr < f.psegs[b].PAddr })
	return f, nil
}

func readFull(r io.ReaderAt, buf []byte, off uint64) error {
	if off > 1<<63-1 || off+uint64(len(buf)) > 1<<63-1 {
		return fmt.Errorf("offset %#x is out of range", off)
	}
	n, err := r.ReadAt(buf, int64(off))
	if n == len(buf) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// Machine is the core's e_machine (EM_X86_64 or EM_AARCH64).
func (f *File) Machine() elf.Machine { return f.machine }

// Segments returns the PT_LOADs sorted by virtual address.
func (f *File) Segments() []Segment { return append([]Segment(nil), f.segs...) }

// Notes returns the notes of all PT_NOTE segments.
func (f *File) Notes() []notes.Note { return f.notes }

// VMCOREINFO returns the VMCOREINFO note's text, or nil when there is none.
func (f *File) VMCOREINFO() []byte { return notes.FindVMCOREINFO(f.notes) }

// find returns the segment holding addr among segs (sorted by key), or false.
func find(segs []Segment, addr uint64, key func(Segment) uint64) (Segment, bool) {
	i := sort.Search(len(segs), func(i int) bool { return key(segs[i]) > addr }) - 1
	// Segments may overlap (KCORE_TEXT inside nothing else on x86, but be
	// safe): walk back to the last one that covers addr.
	for ; i >= 0; i-- {
		s := segs[i]
		if addr-key(s) < s.Size {
			return s, true
		}
	}
	return Segment{}, false
}

// ReadVirt reads kernel virtual memory at vaddr. An address no PT_LOAD
// covers is a *vmem.FaultError wrapping vmem.ErrNotMapped; kcore itself
// returns zeros for unmapped pages inside a segment (vmalloc holes,
// offline RAM), as the kernel does.
func (f *File) ReadVirt(buf []byte, vaddr uint64) error {
	for done := 0; done < len(buf); {
		a := vaddr + uint64(done)
		s, ok := find(f.segs, a, func(s Segment) uint64 { return s.VAddr })
		if !ok {
			return &vmem.FaultError{VAddr: a, Err: vmem.ErrNotMapped}
		}
		n := min(uint64(len(buf)-done), s.Size-(a-s.VAddr))
		if err := readFull(f.r, buf[done:done+int(n)], s.Offset+(a-s.VAddr)); err != nil {
			return &vmem.FaultError{VAddr: a, Err: fmt.Errorf("kcore read at offset %#x: %w", s.Offset+(a-s.VAddr), err)}
		}
		done += int(n)
	}
	return nil
}

// ReadPhys reads physical memory through the segments that carry a physical
// address (the direct map of System RAM and the kernel text). Other physical
// addresses (reserved memory, MMIO) are a *phys.MissingError.
func (f *File) ReadPhys(buf []byte, paddr uint64) error {
	for done := 0; done < len(buf); {
		a := paddr + uint64(done)
		s, ok := find(f.psegs, a, func(s Segment) uint64 { return s.PAddr })
		if !ok {
			return &phys.MissingError{Addr: a, Reason: phys.NotInDump}
		}
		n := min(uint64(len(buf)-done), s.Size-(a-s.PAddr))
		if err := readFull(f.r, buf[done:done+int(n)], s.Offset+(a-s.PAddr)); err != nil {
			return fmt.Errorf("kcore: physical %#x (offset %#x): %w", a, s.Offset+(a-s.PAddr), err)
		}
		done += int(n)
	}
	return nil
}

// Ranges lists the physical ranges readable through ReadPhys.
func (f *File) Ranges() []phys.Range {
	var out []phys.Range
	for _, s := range f.psegs {
		if n := len(out); n > 0 && out[n-1].End >= s.PAddr {
			out[n-1].End = max(out[n-1].End, s.PAddr+s.Size)
			continue
		}
		out = append(out, phys.Range{Start: s.PAddr, End: s.PAddr + s.Size})
	}
	return out
}

var (
	_ vmem.Reader = (*File)(nil)
	_ phys.Memory = (*File)(nil)
	_ phys.Ranger = (*File)(nil)
)
