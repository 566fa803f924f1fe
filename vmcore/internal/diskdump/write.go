package diskdump

// A kdump-compressed writer, laid out as makedumpfile writes the format
// (makedumpfile.c: write_kdump_header, write_kdump_bitmap,
// write_kdump_pages_cyclic; diskdump_mod.h for the structs):
//
//	block 0               struct disk_dump_header, header_version 6
//	block 1..             struct kdump_sub_header, then the ELF notes, then
//	                      VMCOREINFO (pointed at inside the notes when the
//	                      text is one of their descriptors, as makedumpfile does)
//	bitmap_blocks blocks  1st bitmap (pages that exist), 2nd bitmap (pages dumped)
//	...                   page_desc_t[] for every pfn set in the 2nd bitmap
//	...                   page data; all-zero pages share one copy (pd_zero)

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"sync"

	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"

	"github.com/panicscope/panicscope/vmcore/phys"
)

// WriteOptions describe the dump a Writer produces. Fields not listed are
// fixed: signature "KDUMP   ", header_version 6, no split, no eraseinfo.
type WriteOptions struct {
	// BlockSize is block_size, the page size; 0 means 4096.
	BlockSize int
	// MaxMapnr is max_mapnr: pages at pfn >= MaxMapnr cannot be added.
	MaxMapnr uint64

	UTSName    UTSName
	Timestamp  Timeval
	NrCPUs     int32
	CurrentCPU uint32
	PhysBase   uint64
	// DumpLevel is makedumpfile's -d level written to the sub header
	// (31: zero, cache, private cache, user and free pages excluded).
	DumpLevel int32
	// Incomplete sets DUMP_DH_COMPRESSED_INCOMPLETE in the header status.
	Incomplete bool

	// VMCOREINFO text and raw ELF notes (NT_PRSTATUS, QEMU CPU state,
	// the VMCOREINFO note...) for the sub header; either may be empty.
	VMCOREINFO []byte
	Notes      []byte

	// Compression of the page data: "zlib" (the default), "zstd",
	// "snappy" or "none". A page that does not shrink is stored raw
	// (page_desc_t.flags 0), as makedumpfile does.
	Compression string
}

// WriteStats says what WriteTo wrote.
type WriteStats struct {
	Pages      int   // pages with data (in the 2nd bitmap, with a descriptor)
	ZeroPages  int   // of Pages, all-zero pages sharing one stored copy
	LostPages  int   // pages in the 2nd bitmap with a zeroed descriptor
	RawPages   int   // pages stored uncompressed because compressing did not pay
	Bytes      int64 // size of the file
	Existing   uint64
	DataBytes  int64 // compressed page data
	HeaderSize int64 // bytes before the page descriptors
}

// Writer collects pages and writes a kdump-compressed file. It is not
// safe for concurrent use.
type Writer struct {
	opt    WriteOptions
	bs     int
	flag   uint32
	exists []pfnRange
	pages  map[uint64][]byte
	lost   map[uint64]bool
}

type pfnRange struct{ lo, hi uint64 } // [lo, hi)

// NewWriter checks opt and returns an empty Writer.
func NewWriter(opt WriteOptions) (*Writer, error) {
	if opt.BlockSize == 0 {
		opt.BlockSize = phys.PageSize
	}
	bs := opt.BlockSize
	if bs < minBlockSize || bs > maxBlockSize || bs&(bs-1) != 0 {
		return nil, fmt.Errorf("diskdump writer: block size %d is not a power of two in [%d, %d]", bs, minBlockSize, maxBlockSize)
	}
	if opt.MaxMapnr == 0 {
		return nil, errors.New("diskdump writer: max_mapnr is 0")
	}
	if opt.MaxMapnr > ^uint64(0)/uint64(bs) {
		return nil, fmt.Errorf("diskdump writer: max_mapnr %#x overflows the address space", opt.MaxMapnr)
	}
	if opt.Compression == "" {
		opt.Compression = string(methodZlib)
	}
	w := &Writer{opt: opt, bs: bs, pages: map[uint64][]byte{}, lost: map[uint64]bool{}}
	switch method(opt.Compression) {
	case methodZlib:
		w.flag = StatusCompressedZlib
	case methodZstd:
		w.flag = StatusCompressedZstd
	case methodSnappy:
		w.flag = StatusCompressedSnappy
	case methodNone:
	default:
		return nil, fmt.Errorf("diskdump writer: compression %q (want zlib, zstd, snappy or none)", opt.Compression)
	}
	return w, nil
}

// SetExists marks pfns [lo, hi) as existing (the 1st bitmap): reading one
// that is not added gives phys.Excluded instead of phys.NotInDump. Added
// and lost pages exist implicitly.
func (w *Writer) SetExists(lo, hi uint64) {
	hi = min(hi, w.opt.MaxMapnr)
	if lo < hi {
		w.exists = append(w.exists, pfnRange{lo, hi})
	}
}

// AddPage stores the content of page pfn (BlockSize bytes, copied).
func (w *Writer) AddPage(pfn uint64, data []byte) error {
	if pfn >= w.opt.MaxMapnr {
		return fmt.Errorf("diskdump writer: pfn %#x is beyond max_mapnr %#x", pfn, w.opt.MaxMapnr)
	}
	if len(data) != w.bs {
		return fmt.Errorf("diskdump writer: pfn %#x: %d bytes, want the block size %d", pfn, len(data), w.bs)
	}
	delete(w.lost, pfn)
	w.pages[pfn] = bytes.Clone(data)
	return nil
}

// AddLost lists pfn in the 2nd bitmap with a zeroed descriptor, as an
// incomplete makedumpfile dump leaves pages it never wrote: readers report
// it as beyond the end of the dump.
func (w *Writer) AddLost(pfn uint64) error {
	if pfn >= w.opt.MaxMapnr {
		return fmt.Errorf("diskdump writer: pfn %#x is beyond max_mapnr %#x", pfn, w.opt.MaxMapnr)
	}
	if _, ok := w.pages[pfn]; !ok {
		w.lost[pfn] = true
	}
	return nil
}

// Pages is the number of pages added (not counting lost ones).
func (w *Writer) Pages() int { return len(w.pages) }

// stored is one page's encoded form.
type stored struct {
	data  []byte
	flags uint32
	zero  bool
}

// WriteTo writes the file to out, sequentially.
func (w *Writer) WriteTo(out io.Writer) (int64, error) {
	st, err := w.Write(out)
	return st.Bytes, err
}

// Write writes the file to out, sequentially, and says what it wrote.
func (w *Writer) Write(out io.Writer) (WriteStats, error) {
	var st WriteStats
	bs := uint64(w.bs)
	le := binary.LittleEndian
	opt := &w.opt

	// Dumped pfns in order: pages with data and lost pages.
	dumped := make([]uint64, 0, len(w.pages)+len(w.lost))
	for pfn := range w.pages {
		dumped = append(dumped, pfn)
	}
	for pfn := range w.lost {
		dumped = append(dumped, pfn)
	}
	slices.Sort(dumped)
	enc, err := w.encodeAll(dumped)
	if err != nil {
		return st, err
	}
	exists := mergeRanges(w.exists, dumped)
	for _, r := range exists {
		st.Existing += r.hi - r.lo
	}

	// Sub header area: kdump_sub_header, notes, VMCOREINFO.
	noteOff := bs + subHeaderSize
	infoOff := noteOff + uint64(len(opt.Notes))
	extra := opt.VMCOREINFO
	if i := bytes.Index(opt.Notes, opt.VMCOREINFO); len(opt.VMCOREINFO) > 0 && i >= 0 {
		// makedumpfile's write_kdump_header points offset_vmcoreinfo at
		// the VMCOREINFO note's descriptor inside the notes.
		infoOff, extra = noteOff+uint64(i), nil
	}
	subBytes := uint64(subHeaderSize + len(opt.Notes) + len(extra))
	subBlocks := (subBytes + bs - 1) / bs
	mapBytes := (opt.MaxMapnr + 7) / 8
	mapBlocks := (mapBytes + bs - 1) / bs
	if 2*mapBlocks > uint64(^uint32(0)) || subBlocks > 1<<31-1 {
		return st, fmt.Errorf("diskdump writer: max_mapnr %#x needs too many bitmap blocks", opt.MaxMapnr)
	}
	bitmapOff := (1 + subBlocks) * bs
	descOff := bitmapOff + 2*mapBlocks*bs
	dataOff := descOff + uint64(len(dumped))*descSize
	st.HeaderSize = int64(descOff)

	bw := bufio.NewWriterSize(out, 1<<20)
	cw := &countWriter{w: bw}

	// struct disk_dump_header.
	hdr := make([]byte, bs)
	copy(hdr, sigKdump)
	le.PutUint32(hdr[8:], 6)
	for i, s := range []string{opt.UTSName.Sysname, opt.UTSName.Nodename, opt.UTSName.Release,
		opt.UTSName.Version, opt.UTSName.Machine, opt.UTSName.Domainname} {
		f := hdr[12+i*65 : 12+i*65+64] // keep the NUL terminator
		copy(f, s)
	}
	le.PutUint64(hdr[408:], uint64(opt.Timestamp.Sec))
	le.PutUint64(hdr[416:], uint64(opt.Timestamp.Usec))
	status := w.flag
	if opt.Incomplete {
		status |= StatusIncomplete
	}
	le.PutUint32(hdr[424:], status)
	le.PutUint32(hdr[428:], uint32(bs))
	le.PutUint32(hdr[432:], uint32(subBlocks))
	le.PutUint32(hdr[436:], uint32(2*mapBlocks))
	le.PutUint32(hdr[440:], uint32(min(opt.MaxMapnr, uint64(^uint32(0)))))
	le.PutUint32(hdr[444:], uint32(min(st.Existing, uint64(^uint32(0))))) // total_ram_blocks
	le.PutUint32(hdr[456:], opt.CurrentCPU)
	le.PutUint32(hdr[460:], uint32(opt.NrCPUs))
	cw.Write(hdr)

	// struct kdump_sub_header (v6), notes, VMCOREINFO.
	sub := make([]byte, subBlocks*bs)
	le.PutUint64(sub[0:], opt.PhysBase)
	le.PutUint32(sub[8:], uint32(opt.DumpLevel))
	if len(opt.VMCOREINFO) > 0 {
		le.PutUint64(sub[32:], infoOff)
		le.PutUint64(sub[40:], uint64(len(opt.VMCOREINFO)))
	}
	if len(opt.Notes) > 0 {
		le.PutUint64(sub[48:], noteOff)
		le.PutUint64(sub[56:], uint64(len(opt.Notes)))
	}
	le.PutUint64(sub[96:], opt.MaxMapnr)
	copy(sub[subHeaderSize:], opt.Notes)
	copy(sub[subHeaderSize+len(opt.Notes):], extra)
	cw.Write(sub)

	// Bitmaps, a block at a time.
	blk := make([]byte, bs)
	writeMap := func(rs []pfnRange) {
		i := 0
		for b := uint64(0); b < mapBlocks; b++ {
			clear(blk)
			lo, hi := b*bs*8, (b+1)*bs*8
			for i < len(rs) && rs[i].hi <= lo {
				i++
			}
			for j := i; j < len(rs) && rs[j].lo < hi; j++ {
				setBits(blk, max(rs[j].lo, lo)-lo, min(rs[j].hi, hi)-lo)
			}
			cw.Write(blk)
		}
	}
	writeMap(exists)
	writeMap(mergeRanges(nil, dumped))

	// Descriptors; the shared zero page's data comes first.
	off := dataOff
	var zeroOff uint64
	var zero *stored
	for i := range enc {
		if enc[i].zero {
			zero = &enc[i]
			zeroOff = off
			off += uint64(len(enc[i].data))
			break
		}
	}
	desc := make([]byte, descSize)
	var order []*stored
	for i := range enc {
		clear(desc)
		e := &enc[i]
		switch {
		case e.data == nil: // lost
			st.LostPages++
		case e.zero:
			le.PutUint64(desc[0:], zeroOff)
			le.PutUint32(desc[8:], uint32(len(zero.data)))
			le.PutUint32(desc[12:], zero.flags)
			st.Pages++
			st.ZeroPages++
		default:
			le.PutUint64(desc[0:], off)
			le.PutUint32(desc[8:], uint32(len(e.data)))
			le.PutUint32(desc[12:], e.flags)
			off += uint64(len(e.data))
			order = append(order, e)
			st.Pages++
		}
		if e.data != nil && e.flags == 0 {
			st.RawPages++
		}
		cw.Write(desc)
	}
	if zero != nil {
		cw.Write(zero.data)
	}
	for _, e := range order {
		cw.Write(e.data)
	}
	st.DataBytes = int64(off - dataOff)
	if err := bw.Flush(); err != nil && cw.err == nil {
		cw.err = err
	}
	st.Bytes = cw.n
	if cw.err != nil {
		return st, fmt.Errorf("diskdump writer: %w", cw.err)
	}
	if uint64(cw.n) != off {
		return st, fmt.Errorf("diskdump writer: wrote %d bytes, layout says %d", cw.n, off) // not reached
	}
	return st, nil
}

// encodeAll compresses the pages of dumped (sorted) in parallel; lost
// pages get a nil entry.
func (w *Writer) encodeAll(dumped []uint64) ([]stored, error) {
	enc := make([]stored, len(dumped))
	var zstdEnc *zstd.Encoder
	if method(w.opt.Compression) == methodZstd {
		var err error
		zstdEnc, err = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedBestCompression),
			zstd.WithEncoderConcurrency(1), zstd.WithWindowSize(max(w.bs, zstd.MinWindowSize)))
		if err != nil {
			return nil, fmt.Errorf("diskdump writer: zstd: %w", err)
		}
		defer zstdEnc.Close()
	}
	var (
		wg       sync.WaitGroup
		next     = make(chan int)
		errMu    sync.Mutex
		firstErr error
	)
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			var zbuf bytes.Buffer
			zw, _ := zlib.NewWriterLevel(&zbuf, zlib.BestCompression)
			for i := range next {
				pfn := dumped[i]
				data, ok := w.pages[pfn]
				if !ok {
					continue // lost
				}
				if isZero(data) {
					enc[i].zero = true // encoded once below
					continue
				}
				s, err := w.encode(data, zw, &zbuf, zstdEnc)
				if err != nil {
					errMu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("diskdump writer: pfn %#x: %w", pfn, err)
					}
					errMu.Unlock()
					continue
				}
				enc[i] = s
			}
		})
	}
	for i := range dumped {
		next <- i
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if slices.ContainsFunc(enc, func(s stored) bool { return s.zero }) {
		var zbuf bytes.Buffer
		zw, _ := zlib.NewWriterLevel(&zbuf, zlib.BestCompression)
		s, err := w.encode(make([]byte, w.bs), zw, &zbuf, zstdEnc)
		if err != nil {
			return nil, fmt.Errorf("diskdump writer: zero page: %w", err)
		}
		for i := range enc {
			if enc[i].zero {
				enc[i].data, enc[i].flags = s.data, s.flags
			}
		}
	}
	return enc, nil
}

func (w *Writer) encode(data []byte, zw *zlib.Writer, zbuf *bytes.Buffer, zenc *zstd.Encoder) (stored, error) {
	var out []byte
	switch method(w.opt.Compression) {
	case methodZlib:
		zbuf.Reset()
		zw.Reset(zbuf)
		if _, err := zw.Write(data); err != nil {
			return stored{}, err
		}
		if err := zw.Close(); err != nil {
			return stored{}, err
		}
		out = bytes.Clone(zbuf.Bytes())
	case methodZstd:
		out = zenc.EncodeAll(data, nil)
	case methodSnappy:
		out = snappy.Encode(nil, data)
	}
	if out == nil || len(out) >= len(data) {
		return stored{data: bytes.Clone(data)}, nil
	}
	return stored{data: out, flags: w.flag}, nil
}

func isZero(b []byte) bool {
	for len(b) >= 8 {
		if binary.LittleEndian.Uint64(b) != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// setBits sets bits [lo, hi) of the little-endian bitmap b.
func setBits(b []byte, lo, hi uint64) {
	for ; lo < hi && lo%8 != 0; lo++ {
		b[lo/8] |= 1 << (lo % 8)
	}
	for ; lo+8 <= hi; lo += 8 {
		b[lo/8] = 0xff
	}
	for ; lo < hi; lo++ {
		b[lo/8] |= 1 << (lo % 8)
	}
}

// mergeRanges sorts and merges rs together with the single pfns of sorted.
func mergeRanges(rs []pfnRange, sorted []uint64) []pfnRange {
	all := slices.Clone(rs)
	for _, p := range sorted {
		if n := len(all); n > 0 && all[n-1].hi == p {
			all[n-1].hi++
			continue
		}
		all = append(all, pfnRange{p, p + 1})
	}
	slices.SortFunc(all, func(a, b pfnRange) int {
		switch {
		case a.lo < b.lo:
			return -1
		case a.lo > b.lo:
			return 1
		}
		return 0
	})
	var out []pfnRange
	for _, r := range all {
		if n := len(out); n > 0 && r.lo <= out[n-1].hi {
			out[n-1].hi = max(out[n-1].hi, r.hi)
			continue
		}
		out = append(out, r)
	}
	return out
}

type countWriter struct {
	w   io.Writer
	n   int64
	err error
}

func (c *countWriter) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.w.Write(p)
	c.n += int64(n)
	c.err = err
	return n, err
}

// ExistingRanges lists the physical ranges of pages set in the 1st bitmap
// (pages of the machine's memory, dumped or excluded) within this file's
// pfn range, in address order: what a filtered copy of the file should
// mark as existing.
func (f *File) ExistingRanges() ([]phys.Range, error) {
	if f.bitmapsCut {
		return nil, errors.New("diskdump: the file ends inside its bitmaps")
	}
	return runs(f.ram, f.ram, f.firstPFN, f.endPFN, f.shift)
}
