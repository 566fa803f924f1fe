// Package diskdump reads kdump-compressed dumps: makedumpfile's (and
// QEMU's) "diskdump" container, signature "KDUMP   " (and the older
// "DISKDUMP").
//
// Layout (makedumpfile diskdump_mod.h / IMPLEMENTATION), in blocks of
// block_size bytes:
//
//	block 0                 struct disk_dump_header
//	block 1..sub_hdr_size   struct kdump_sub_header (+ VMCOREINFO, ELF notes)
//	bitmap_blocks blocks    1st bitmap (pages that exist), 2nd bitmap (pages dumped)
//	...                     page_desc_t[] for every pfn set in the 2nd bitmap, in pfn order
//	...                     page data (compressed per page), eraseinfo
//
// Only the little-endian LP64 layout (x86_64 dumps) is supported.
package diskdump

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/panicscope/panicscope/vmcore/phys"
)

// ErrNotDiskdump is returned by Open when the signature is not "KDUMP   "
// or "DISKDUMP".
var ErrNotDiskdump = errors.New("not a kdump-compressed (diskdump) file")

// ErrUnsupported is wrapped by Open's error for kdump-compressed files of
// a layout this reader does not decode (32-bit or big-endian machines).
// Its text starts with "unsupported".
var ErrUnsupported = errors.New("unsupported")

// ErrCorruptPage is wrapped by ReadPhys errors for a page whose descriptor
// or data is invalid (bad size, failed decompression); it is not a
// *phys.MissingError because the file claims to hold the page.
var ErrCorruptPage = errors.New("corrupt page in kdump-compressed dump")

// Header status flags (makedumpfile diskdump_mod.h, DUMP_DH_*); the
// compression bits are also the page_desc_t flags.
const (
	StatusCompressedZlib   = 0x1
	StatusCompressedLZO    = 0x2
	StatusCompressedSnappy = 0x4
	StatusIncomplete       = 0x8 // DUMP_DH_COMPRESSED_INCOMPLETE: writer ran out of space
	StatusExcludedVmemmap  = 0x10
	StatusCompressedZstd   = 0x20
)

const (
	sigKdump    = "KDUMP   "
	sigDiskdump = "DISKDUMP"

	// sizeof(struct disk_dump_header) on x86_64, up to tasks[].
	headerSize = 464
	// sizeof(struct kdump_sub_header) on LP64, header_version 6.
	subHeaderSize = 104
	// sizeof(page_desc_t).
	descSize = 24

	minBlockSize = 512
	maxBlockSize = 1 << 20 // 64 KiB pages exist (ppc64, arm64); leave room
	// Caps on blobs copied out of the header area, on top of the file size.
	maxVMCOREINFO = 16 << 20
	maxNotes      = 64 << 20
	// Decoded pages kept, as bytes (4096 pages of 4 KiB).
	cacheBytes = 16 << 20
	// maxPFNs bounds max_mapnr: 2^52 bytes (MAX_PHYSMEM_BITS with 5-level
	// paging) of 4 KiB pages; a larger value is a corrupt header.
	maxPFNs = 1 << 40
	// maxCutBitmaps is how far bitmaps may run past the end of a file that
	// still opens (cut short): beyond, bitmap_blocks is more likely corrupt.
	maxCutBitmaps = 1 << 30
)

// UTSName is struct new_utsname as copied into the header.
type UTSName struct {
	Sysname, Nodename, Release, Version, Machine, Domainname string
}

// Timeval is the header's struct timeval.
type Timeval struct {
	Sec, Usec int64
}

// Time converts the timestamp; zero when the writer left it empty.
func (t Timeval) Time() time.Time {
	if t.Sec == 0 && t.Usec == 0 {
		return time.Time{}
	}
	return time.Unix(t.Sec, t.Usec*1000).UTC()
}

// Header is struct disk_dump_header plus, for "KDUMP   " files, struct
// kdump_sub_header. Fields keep the C names' meaning.
type Header struct {
	Signature      string // "KDUMP   " or "DISKDUMP"
	Version        int32  // header_version (6 for current makedumpfile and QEMU)
	UTSName        UTSName
	Timestamp      Timeval
	Status         uint32 // DUMP_DH_* flags
	BlockSize      int32
	SubHdrSize     int32 // in blocks
	BitmapBlocks   uint32
	MaxMapnr       uint64 // effective: max_mapnr_64 for header_version >= 6, else MaxMapnr32
	MaxMapnr32     uint32 // the header's 32-bit max_mapnr (may be truncated)
	TotalRAMBlocks uint32
	DeviceBlocks   uint32
	WrittenBlocks  uint32
	CurrentCPU     uint32 // 0 in practice even when another CPU panicked
	NrCPUs         int32
	Sub            SubHeader // zero for "DISKDUMP" files
}

// SubHeader is struct kdump_sub_header (LP64 layout). Fields newer than
// the file's header_version are zero, except StartPFN64/EndPFN64, which
// mirror StartPFN/EndPFN before version 6 (as crash fills them).
// makedumpfile leaves the pfn fields 0 unless the dump is split.
type SubHeader struct {
	PhysBase         uint64
	DumpLevel        int32 // v1+
	Split            int32 // v2+
	StartPFN         uint64
	EndPFN           uint64 // v2+, obsoleted by the _64 fields in v6
	OffsetVMCOREINFO uint64 // v3+
	SizeVMCOREINFO   uint64
	OffsetNote       uint64 // v4+
	SizeNote         uint64
	OffsetEraseinfo  uint64 // v5+
	SizeEraseinfo    uint64
	StartPFN64       uint64 // v6+
	EndPFN64         uint64
	MaxMapnr64       uint64
}

// File is an open kdump-compressed dump. Its methods are safe for
// concurrent use.
type File struct {
	r     io.ReaderAt
	size  int64
	hdr   Header
	kdump bool

	blockSize int
	shift     uint
	maxPFN    uint64 // pfns >= maxPFN are not in the dump (max_mapnr, bitmap length)
	// Split dumps (makedumpfile --split) hold [firstPFN, endPFN) only, and
	// their descriptors start at firstPFN.
	firstPFN, endPFN uint64

	ram, dumped *bitmap
	descBase    int64  // file offset of page_desc_t[0]
	descCount   uint64 // descriptors this file should hold
	rankBase    uint64 // dumped pages before firstPFN

	vmcoreinfo, notes []byte
	truncated         bool
	bitmapsCut        bool // the file ends inside the bitmaps: no page is readable
	cut               Cut
	warnings          []string

	cache *phys.PageCache

	rangesOnce sync.Once
	ranges     []phys.Range
	compOnce   sync.Once
	comp       string
}

// Open parses the headers and bitmaps of a kdump-compressed file of the
// given size. Page descriptors and data are read lazily by ReadPhys.
func Open(r io.ReaderAt, size int64) (*File, error) {
	var raw [headerSize]byte
	n, err := r.ReadAt(raw[:], 0)
	if n < 8 {
		if err == nil || errors.Is(err, io.EOF) {
			return nil, ErrNotDiskdump
		}
		return nil, fmt.Errorf("diskdump header: %w", err)
	}
	sig := string(raw[:8])
	if sig != sigKdump && sig != sigDiskdump {
		return nil, ErrNotDiskdump
	}
	if n < headerSize || size < headerSize {
		return nil, fmt.Errorf("diskdump header: file is %d bytes, shorter than struct disk_dump_header", size)
	}
	f := &File{r: r, size: size, kdump: sig == sigKdump}
	if err := f.parseHeader(raw[:]); err != nil {
		return nil, err
	}
	if err := f.readSubHeader(); err != nil {
		return nil, err
	}
	if err := f.readBitmaps(); err != nil {
		return nil, err
	}
	f.readBlobs()
	if !f.bitmapsCut {
		f.checkTruncated()
	}
	f.cache = phys.NewPageCache(max(cacheBytes/f.blockSize, 16))
	return f, nil
}

func cstr(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// parseHeader decodes struct disk_dump_header (x86_64 offsets: utsname
// 6*65 bytes at 12, struct timeval aligned to 408).
func (f *File) parseHeader(b []byte) error {
	le := binary.LittleEndian
	h := &f.hdr
	h.Signature = string(b[:8])
	h.Version = int32(le.Uint32(b[8:]))
	u := b[12 : 12+6*65]
	field := func(i int) string { return cstr(u[i*65 : (i+1)*65]) }
	h.UTSName = UTSName{field(0), field(1), field(2), field(3), field(4), field(5)}
	h.Timestamp = Timeval{int64(le.Uint64(b[408:])), int64(le.Uint64(b[416:]))}
	h.Status = le.Uint32(b[424:])
	h.BlockSize = int32(le.Uint32(b[428:]))
	h.SubHdrSize = int32(le.Uint32(b[432:]))
	h.BitmapBlocks = le.Uint32(b[436:])
	h.MaxMapnr32 = le.Uint32(b[440:])
	h.MaxMapnr = uint64(h.MaxMapnr32)
	h.TotalRAMBlocks = le.Uint32(b[444:])
	h.DeviceBlocks = le.Uint32(b[448:])
	h.WrittenBlocks = le.Uint32(b[452:])
	h.CurrentCPU = le.Uint32(b[456:])
	h.NrCPUs = int32(le.Uint32(b[460:]))

	bs := h.BlockSize
	if !validBlockSize(bs) {
		if validBlockSize(int32(binary.BigEndian.Uint32(b[428:]))) || validBlockSize(int32(binary.BigEndian.Uint32(b[416:]))) {
			return fmt.Errorf("%w: big-endian kdump-compressed dump (machine %q); only little-endian x86_64 dumps are read", ErrUnsupported, h.UTSName.Machine)
		}
		// ILP32 (i386, arm): struct timeval is two 4-byte longs at 404, so
		// block_size sits at 416 (diskdump_mod.h on a 32-bit build).
		if validBlockSize(int32(le.Uint32(b[416:]))) {
			return fmt.Errorf("%w: 32-bit kdump-compressed dump (machine %q); only x86_64 dumps are read", ErrUnsupported, h.UTSName.Machine)
		}
		return fmt.Errorf("diskdump header: block_size %d is not a power of two in [%d, %d]", bs, minBlockSize, maxBlockSize)
	}
	if h.Version < 0 {
		return fmt.Errorf("diskdump header: header_version %d", h.Version)
	}
	if h.SubHdrSize < 0 {
		return fmt.Errorf("diskdump header: sub_hdr_size %d", h.SubHdrSize)
	}
	if h.BitmapBlocks == 0 {
		return errors.New("diskdump header: bitmap_blocks is 0")
	}
	f.blockSize = int(bs)
	for 1<<f.shift < f.blockSize {
		f.shift++
	}
	return nil
}

func validBlockSize(bs int32) bool {
	return bs >= minBlockSize && bs <= maxBlockSize && bs&(bs-1) == 0
}

// readSubHeader decodes struct kdump_sub_header at block 1, reading only
// the fields the header_version defines.
func (f *File) readSubHeader() error {
	if !f.kdump {
		return nil // DISKDUMP's sub header is arch-specific and not needed
	}
	h := &f.hdr
	if h.SubHdrSize < 1 {
		return fmt.Errorf("diskdump header: sub_hdr_size %d leaves no room for struct kdump_sub_header", h.SubHdrSize)
	}
	var b [subHeaderSize]byte
	off := int64(f.blockSize)
	if off+subHeaderSize > f.size {
		return fmt.Errorf("kdump sub header: file is %d bytes, cut before block 1", f.size)
	}
	if n, err := f.r.ReadAt(b[:], off); n < len(b) {
		return fmt.Errorf("kdump sub header: %w", orUnexpectedEOF(err))
	}
	le := binary.LittleEndian
	s := &h.Sub
	v := h.Version
	s.PhysBase = le.Uint64(b[0:])
	if v >= 1 {
		s.DumpLevel = int32(le.Uint32(b[8:]))
	}
	if v >= 2 {
		s.Split = int32(le.Uint32(b[12:]))
		s.StartPFN = le.Uint64(b[16:])
		s.EndPFN = le.Uint64(b[24:])
	}
	if v >= 3 {
		s.OffsetVMCOREINFO, s.SizeVMCOREINFO = le.Uint64(b[32:]), le.Uint64(b[40:])
	}
	if v >= 4 {
		s.OffsetNote, s.SizeNote = le.Uint64(b[48:]), le.Uint64(b[56:])
	}
	if v >= 5 {
		s.OffsetEraseinfo, s.SizeEraseinfo = le.Uint64(b[64:]), le.Uint64(b[72:])
	}
	if v >= 6 {
		s.StartPFN64, s.EndPFN64, s.MaxMapnr64 = le.Uint64(b[80:]), le.Uint64(b[88:]), le.Uint64(b[96:])
		// The 32-bit max_mapnr truncates above 16 TiB; v6 carries the real
		// one (crash's read_dump_header does the same).
		if s.MaxMapnr64 != 0 {
			h.MaxMapnr = s.MaxMapnr64
		}
	} else {
		s.StartPFN64, s.EndPFN64 = s.StartPFN, s.EndPFN
	}
	return nil
}

func orUnexpectedEOF(err error) error {
	if err == nil || errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// readBitmaps loads both bitmaps and builds the rank index. Their size
// comes from bitmap_blocks, which must fit inside the file.
func (f *File) readBitmaps() error {
	h := &f.hdr
	bs := uint64(f.blockSize)
	start := (1 + uint64(h.SubHdrSize)) * bs
	length := uint64(h.BitmapBlocks) * bs
	f.descBase = int64(start + length)
	if start+length > uint64(f.size) {
		if start+length > uint64(f.size)+maxCutBitmaps {
			return fmt.Errorf("diskdump bitmaps: %d blocks at %#x run past the end of the %d-byte file", h.BitmapBlocks, start, f.size)
		}
		// A copy cut inside its bitmaps: the headers are readable, no page
		// can be located (every read is beyond the end).
		f.truncated, f.bitmapsCut = true, true
		f.cut = Cut{FileSize: f.size, NeedAtLeast: int64(start + length)}
		f.warn("diskdump bitmaps: %d blocks at %#x run past the end of the %d-byte file: no page can be read", h.BitmapBlocks, start, f.size)
		return nil
	}

	// makedumpfile and QEMU always write two bitmaps of half the area each.
	// Old DISKDUMP files may have one, serving as both (crash's
	// dump_is_partial: two only if the area is twice what max_mapnr needs).
	twoBitmaps := true
	if !f.kdump {
		need := (h.MaxMapnr + 7) / 8
		twoBitmaps = uint64(h.BitmapBlocks) >= 2*((need+bs-1)/bs)
	}
	half := length
	if twoBitmaps {
		half = length / 2
	}
	// Only the part covering max_mapnr is used, and no more than a
	// machine can have (maxPFNs).
	f.maxPFN = min(h.MaxMapnr, half*8, maxPFNs)
	f.ram = newBitmap(f.r, int64(start), f.maxPFN)
	f.dumped = f.ram
	if twoBitmaps {
		f.dumped = newBitmap(f.r, int64(start+half), f.maxPFN)
	}
	if err := f.dumped.indexRank(); err != nil {
		return fmt.Errorf("diskdump 2nd bitmap: %w", err)
	}

	f.firstPFN, f.endPFN = 0, f.maxPFN
	if f.kdump && h.Version >= 2 && h.Sub.Split != 0 {
		f.firstPFN = min(h.Sub.StartPFN64, f.maxPFN)
		f.endPFN = max(min(h.Sub.EndPFN64, f.maxPFN), f.firstPFN)
	}
	first, err := f.dumped.rank(f.firstPFN)
	if err != nil {
		return fmt.Errorf("diskdump 2nd bitmap: %w", err)
	}
	end, err := f.dumped.rank(f.endPFN)
	if err != nil {
		return fmt.Errorf("diskdump 2nd bitmap: %w", err)
	}
	f.rankBase, f.descCount = first, end-first
	return nil
}

func (f *File) readFull(b []byte, off int64) error {
	if n, err := f.r.ReadAt(b, off); n < len(b) {
		return orUnexpectedEOF(err)
	}
	return nil
}

// readBlob copies a sub-header blob out of the file, or explains why not.
func (f *File) readBlob(what string, off, size, limit uint64) []byte {
	if size == 0 || off == 0 {
		return nil
	}
	if size > limit {
		f.warn("%s: size %d exceeds the %d-byte cap; ignored", what, size, limit)
		return nil
	}
	if off > uint64(f.size) || size > uint64(f.size)-off {
		f.warn("%s: %d bytes at %#x lie beyond the end of the %d-byte file; ignored", what, size, off, f.size)
		return nil
	}
	b := make([]byte, size)
	if err := f.readFull(b, int64(off)); err != nil {
		f.warn("%s: %v", what, err)
		return nil
	}
	return b
}

// readBlobs loads VMCOREINFO (v3+) and the ELF notes (v4+). They are
// optional: a bad offset gives a warning, not an error.
func (f *File) readBlobs() {
	s := f.hdr.Sub
	f.vmcoreinfo = f.readBlob("VMCOREINFO", s.OffsetVMCOREINFO, s.SizeVMCOREINFO, maxVMCOREINFO)
	f.notes = f.readBlob("ELF notes", s.OffsetNote, s.SizeNote, maxNotes)
}

// Cut describes a file shorter than its headers say (a copy cut short).
type Cut struct {
	FileSize int64 // bytes in the file
	// NeedAtLeast is the size the file should have at least: the end of
	// the last page's data when its descriptor is readable, else the end
	// of the descriptor table, else of the bitmaps.
	NeedAtLeast int64
	// FirstMissingPFN is the first page whose descriptor or data lies past
	// the end, found by binary search over the descriptors (makedumpfile
	// writes page data in pfn order; pages sharing the zero page's copy
	// may still read after it). HasFirst is false when the bitmaps are cut
	// and no page can be located.
	FirstMissingPFN uint64
	HasFirst        bool
	// PagesAtMost is the number of dumped pages from FirstMissingPFN on:
	// all of them may be gone.
	PagesAtMost uint64
}

// checkTruncated notes whether the descriptor array or the data of a
// page runs past the end of the file (a copy cut short), and where the
// missing part starts.
//
// makedumpfile (write_kdump_pages) and QEMU (write_dump_pages) write page
// data in pfn order right after the descriptors, except that every
// all-zero page shares one copy written first, at the very start of the
// data: descriptors pointing there are "early" and say nothing about where
// the file was cut. Over the others, "data past the end" is monotone, so a binary
// search finds the first lost page.
func (f *File) checkTruncated() {
	n := f.descCount
	if n == 0 {
		return
	}
	dataStart := uint64(f.descBase) + n*descSize
	if n > uint64(f.size)/descSize || dataStart < uint64(f.descBase) {
		dataStart = ^uint64(0)
	}
	dc := descChunk{f: f}
	// state: 0 early, 1 present, 2 lost (unreadable descriptor, never
	// written, or data past the end).
	state := func(i uint64) int {
		d, err := dc.get(i)
		switch {
		case err != nil || d.offset <= 0 || uint64(d.offset)+uint64(d.size) > uint64(f.size) || !f.stored(d.offset, int64(d.size)):
			return 2
		case uint64(d.offset) == dataStart:
			return 0
		}
		return 1
	}
	// The last descriptor that is not early.
	last := n - 1
	for last > 0 && state(last) == 0 {
		last--
	}
	if state(last) != 2 {
		return
	}
	// probe: the first non-early descriptor at or after i (<= last) is lost.
	probe := func(i uint64) (bool, uint64) {
		for ; i < last && state(i) == 0; i++ {
		}
		return state(i) == 2, i
	}
	lo, hi := uint64(0), last
	for lo < hi {
		mid := lo + (hi-lo)/2
		if lost, _ := probe(mid); lost {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	_, first := probe(lo)
	f.truncated = true
	c := Cut{FileSize: f.size, NeedAtLeast: int64(min(dataStart, 1<<63-1)), PagesAtMost: n - first}
	if dataStart == ^uint64(0) {
		c.NeedAtLeast = int64(min(uint64(f.descBase)+n*descSize, 1<<63-1))
	}
	if d, err := f.readDesc(last); err == nil && d.offset > 0 {
		c.NeedAtLeast = max(c.NeedAtLeast, d.offset+int64(d.size))
	}
	if pfn, ok := f.dumped.selectBit(f.rankBase + first); ok {
		c.FirstMissingPFN, c.HasFirst = pfn, true
	}
	f.cut = c
}

// descChunk reads descriptors a chunk at a time for sequential scans.
type descChunk struct {
	f     *File
	first uint64 // index of buf's first descriptor
	n     uint64 // descriptors in buf
	buf   []byte
}

const descChunkLen = 4096

func (c *descChunk) get(i uint64) (pageDesc, error) {
	if i < c.first || i >= c.first+c.n {
		c.first = i - min(i, descChunkLen/2)
		c.n = min(descChunkLen, c.f.descCount-c.first)
		off := uint64(c.f.descBase) + c.first*descSize
		avail := uint64(0)
		if off < uint64(c.f.size) {
			avail = (uint64(c.f.size) - off) / descSize
		}
		c.n = min(c.n, avail)
		if c.buf == nil {
			c.buf = make([]byte, descChunkLen*descSize)
		}
		if c.n > 0 {
			if err := c.f.readFull(c.buf[:c.n*descSize], int64(off)); err != nil {
				c.n = 0
				return c.f.readDesc(i)
			}
		}
		if i >= c.first+c.n {
			return pageDesc{}, io.ErrUnexpectedEOF
		}
	}
	b := c.buf[(i-c.first)*descSize:]
	le := binary.LittleEndian
	return pageDesc{offset: int64(le.Uint64(b[0:])), size: le.Uint32(b[8:]), flags: le.Uint32(b[12:])}, nil
}

func (f *File) warn(format string, args ...any) {
	f.warnings = append(f.warnings, fmt.Sprintf(format, args...))
}

// Header returns the parsed headers.
func (f *File) Header() Header { return f.hdr }

// BlockSize is the page size of the dump.
func (f *File) BlockSize() int { return f.blockSize }

// VMCOREINFO returns a copy of the VMCOREINFO text stored in the sub
// header, or nil when there is none (QEMU without its vmcoreinfo device).
func (f *File) VMCOREINFO() []byte { return bytes.Clone(f.vmcoreinfo) }

// Notes returns a copy of the raw ELF notes (NT_PRSTATUS, QEMU CPU state,
// VMCOREINFO...) stored in the sub header, or nil when absent.
func (f *File) Notes() []byte { return bytes.Clone(f.notes) }

// Incomplete reports DUMP_DH_COMPRESSED_INCOMPLETE: the writer ran out of
// space and later pages read as phys.BeyondEnd.
func (f *File) Incomplete() bool { return f.hdr.Status&StatusIncomplete != 0 }

// Truncated reports that the file is shorter than its page descriptors
// say (a copy cut short); the missing pages read as phys.BeyondEnd.
func (f *File) Truncated() bool { return f.truncated }

// Cut says how the file is cut short; ok is false when it is not.
func (f *File) Cut() (c Cut, ok bool) { return f.cut, f.truncated }

// DumpLevel is makedumpfile's -d level (QEMU writes 1), or -1 when the
// header does not say (DISKDUMP, header_version 0).
func (f *File) DumpLevel() int {
	if !f.kdump || f.hdr.Version < 1 {
		return -1
	}
	return int(f.hdr.Sub.DumpLevel)
}

// SplitRange is the pfn range [start, end) this part of a makedumpfile
// --split set holds; ok is false for a dump that is not split.
func (f *File) SplitRange() (start, end uint64, ok bool) {
	if !f.kdump || f.hdr.Version < 2 || f.hdr.Sub.Split == 0 {
		return 0, f.maxPFN, false
	}
	return f.firstPFN, f.endPFN, true
}

// MaxPFN is the number of pfns the bitmaps cover: max_mapnr, unless the
// bitmaps in the file are shorter (or it exceeds any machine's).
func (f *File) MaxPFN() uint64 { return f.maxPFN }

// DumpedPages is the number of pages the file holds descriptors for.
func (f *File) DumpedPages() uint64 { return f.descCount }

// Warnings lists header problems that did not stop Open (e.g. a
// VMCOREINFO offset beyond the end of the file).
func (f *File) Warnings() []string { return append([]string(nil), f.warnings...) }
