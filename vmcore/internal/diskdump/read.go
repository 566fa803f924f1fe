package diskdump

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/snappy"
	"github.com/klauspost/compress/zstd"

	"github.com/panicscope/panicscope/vmcore/phys"
)

// pageDesc is page_desc_t: where a dumped page's data lives and how it is
// encoded.
type pageDesc struct {
	offset int64  // off_t offset
	size   uint32 // bytes stored
	flags  uint32 // DUMP_DH_COMPRESSED_*; 0 = raw
	// page_flags (the kernel's struct page flags) is not used.
}

// readDesc reads descriptor number idx (counted from this file's first pfn).
func (f *File) readDesc(idx uint64) (pageDesc, error) {
	var b [descSize]byte
	off := uint64(f.descBase) + idx*descSize
	if idx >= f.descCount || off+descSize > uint64(f.size) {
		return pageDesc{}, io.ErrUnexpectedEOF
	}
	if n, err := f.r.ReadAt(b[:], int64(off)); n < descSize {
		return pageDesc{}, orUnexpectedEOF(err)
	}
	le := binary.LittleEndian
	return pageDesc{offset: int64(le.Uint64(b[0:])), size: le.Uint32(b[8:]), flags: le.Uint32(b[12:])}, nil
}

// ReadPhys fills buf with physical memory from paddr, crossing pages. An
// absent page gives a *phys.MissingError for its first byte in the read:
// NotInDump (no such pfn: beyond max_mapnr or not in the 1st bitmap, or
// held by another part of a split dump), Excluded (filtered out by the
// dump level: in the 1st bitmap, not the 2nd) or BeyondEnd (descriptor or
// data missing from a truncated or incomplete file). A page whose data is
// corrupt gives an error wrapping ErrCorruptPage.
func (f *File) ReadPhys(buf []byte, paddr uint64) error {
	mask := uint64(f.blockSize - 1)
	bulk := len(buf) >= bulkRead
	for len(buf) > 0 {
		var n int
		var err error
		if bulk && paddr&mask == 0 && len(buf) >= f.blockSize {
			n, err = f.blockSize, f.pageInto(paddr>>f.shift, buf[:f.blockSize])
		} else {
			var page []byte
			if page, err = f.page(paddr >> f.shift); err == nil {
				n = copy(buf, page[paddr&mask:])
			}
		}
		if err != nil {
			var me *phys.MissingError
			if errors.As(err, &me) {
				me.Addr = paddr
				return me
			}
			return fmt.Errorf("physical address %#x: %w", paddr, err)
		}
		buf = buf[n:]
		next := paddr + uint64(n)
		if next < paddr && len(buf) > 0 {
			return &phys.MissingError{Addr: 0, Reason: phys.NotInDump} // wrapped past 2^64
		}
		paddr = next
	}
	return nil
}

// bulkRead is the size from which ReadPhys decodes whole pages straight
// into the caller's buffer instead of through the page cache: such reads
// (vmlinux BTF, the kallsyms tables, the printk ring) read each page once,
// and caching them would double the memory they take.
const bulkRead = 64 << 10

// page returns the decoded page for pfn, from the cache when possible.
// The slice is shared and must not be modified.
func (f *File) page(pfn uint64) ([]byte, error) {
	if err := f.inRange(pfn); err != nil {
		return nil, err
	}
	if p, ok := f.cache.Get(pfn); ok {
		return p, nil
	}
	out := make([]byte, f.blockSize)
	if err := f.load(pfn, out); err != nil {
		return nil, err
	}
	f.cache.Put(pfn, out)
	return out, nil
}

// pageInto decodes page pfn into out (block size bytes), from the cache
// when it holds the page, without adding it.
func (f *File) pageInto(pfn uint64, out []byte) error {
	if err := f.inRange(pfn); err != nil {
		return err
	}
	if p, ok := f.cache.Get(pfn); ok {
		copy(out, p)
		return nil
	}
	return f.load(pfn, out)
}

// inRange says why pfn cannot be in this file at all, if it cannot.
func (f *File) inRange(pfn uint64) error {
	if f.bitmapsCut {
		return &phys.MissingError{Reason: phys.BeyondEnd}
	}
	if pfn >= f.maxPFN || pfn < f.firstPFN || pfn >= f.endPFN {
		return &phys.MissingError{Reason: phys.NotInDump}
	}
	return nil
}

// load checks pfn against the bitmaps, reads its descriptor and decodes
// its data into out.
func (f *File) load(pfn uint64, out []byte) error {
	if exists, err := f.ram.test(pfn); err != nil {
		return fmt.Errorf("1st bitmap: %w", err)
	} else if !exists {
		return &phys.MissingError{Reason: phys.NotInDump}
	}
	if dumped, err := f.dumped.test(pfn); err != nil {
		return fmt.Errorf("2nd bitmap: %w", err)
	} else if !dumped {
		return &phys.MissingError{Reason: phys.Excluded}
	}
	rank, err := f.dumped.rank(pfn)
	if err != nil {
		return fmt.Errorf("2nd bitmap: %w", err)
	}
	d, err := f.readDesc(rank - f.rankBase)
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return &phys.MissingError{Reason: phys.BeyondEnd}
		}
		return fmt.Errorf("page descriptor of pfn %#x: %w", pfn, err)
	}
	return f.decode(pfn, d, out)
}

// srcPool holds buffers for compressed page data (at most block_size).
var srcPool = sync.Pool{New: func() any { return new([]byte) }}

// decode decodes a page's data into out (block size bytes).
func (f *File) decode(pfn uint64, d pageDesc, out []byte) error {
	bs := f.blockSize
	switch {
	case d.offset == 0:
		// makedumpfile leaves descriptors of pages it never wrote zeroed
		// (crash's cache_page: "descriptor with zero offset").
		return &phys.MissingError{Reason: phys.BeyondEnd}
	case d.offset < 0:
		return fmt.Errorf("%w: pfn %#x: negative data offset %d", ErrCorruptPage, pfn, d.offset)
	case d.size == 0 || d.size > uint32(bs):
		return fmt.Errorf("%w: pfn %#x: data size %d (block size %d)", ErrCorruptPage, pfn, d.size, bs)
	case uint64(d.offset)+uint64(d.size) > uint64(f.size):
		return &phys.MissingError{Reason: phys.BeyondEnd}
	case !f.stored(d.offset, int64(d.size)):
		// A flattened stream cut short lacks the record holding the data:
		// the page is missing, not corrupt.
		return &phys.MissingError{Reason: phys.BeyondEnd}
	}
	method := methodOf(d.flags)
	if method == methodNone && d.size != uint32(bs) {
		return fmt.Errorf("%w: pfn %#x: uncompressed page of %d bytes (block size %d)", ErrCorruptPage, pfn, d.size, bs)
	}
	if method == methodNone {
		if err := f.readFull(out, d.offset); err != nil {
			return f.dataErr(pfn, err)
		}
		return nil
	}
	bp := srcPool.Get().(*[]byte)
	defer srcPool.Put(bp)
	if cap(*bp) < int(d.size) {
		*bp = make([]byte, bs)
	}
	src := (*bp)[:d.size]
	if err := f.readFull(src, d.offset); err != nil {
		return f.dataErr(pfn, err)
	}
	if err := decompress(method, out, src); err != nil {
		return fmt.Errorf("%w: pfn %#x: %s: %v", ErrCorruptPage, pfn, method, err)
	}
	return nil
}

// stored reports whether the reader holds [off, off+n) as data, when it
// knows (a flattened stream's records); true for ordinary files.
func (f *File) stored(off, n int64) bool {
	df, ok := f.r.(dataFinder)
	if !ok {
		return true
	}
	a, _ := df.NextData(off)
	b, _ := df.NextData(off + n - 1)
	return a == off && b == off+n-1
}

// dataErr maps a failed data read: the file ended early (it is shorter
// than the size Open was given) means the page is beyond the end.
func (f *File) dataErr(pfn uint64, err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return &phys.MissingError{Reason: phys.BeyondEnd}
	}
	return fmt.Errorf("page data of pfn %#x: %w", pfn, err)
}

// method is a page encoding, named as Compression reports it.
type method string

const (
	methodZlib   method = "zlib"
	methodLZO    method = "lzo"
	methodSnappy method = "snappy"
	methodZstd   method = "zstd"
	methodNone   method = "none"
)

// methodOf picks the encoding from page_desc_t.flags in the order crash's
// cache_page tests them.
func methodOf(flags uint32) method {
	switch {
	case flags&StatusCompressedZlib != 0:
		return methodZlib
	case flags&StatusCompressedLZO != 0:
		return methodLZO
	case flags&StatusCompressedSnappy != 0:
		return methodSnappy
	case flags&StatusCompressedZstd != 0:
		return methodZstd
	}
	return methodNone
}

var errSize = errors.New("decompressed size is not the block size")

// decompress fills all of dst from src; anything but exactly len(dst)
// bytes is an error.
func decompress(m method, dst, src []byte) error {
	switch m {
	case methodZlib:
		return inflate(dst, src)
	case methodLZO:
		return unLZO(dst, src)
	case methodSnappy:
		n, err := snappy.DecodedLen(src)
		if err != nil {
			return err
		}
		if n != len(dst) {
			return errSize
		}
		out, err := snappy.Decode(dst, src)
		if err != nil {
			return err
		}
		if len(out) != len(dst) {
			return errSize
		}
		return nil
	case methodZstd:
		dec, err := zstdDecoder()
		if err != nil {
			return err
		}
		out, err := dec.DecodeAll(src, dst[:0])
		if err != nil {
			return err
		}
		if len(out) != len(dst) {
			return errSize
		}
		if &out[0] != &dst[0] {
			copy(dst, out)
		}
		return nil
	}
	return fmt.Errorf("unknown encoding %q", m)
}

// zlibPool reuses zlib readers (their inflate state is ~40 KiB).
var zlibPool sync.Pool

func inflate(dst, src []byte) error {
	br := bytes.NewReader(src)
	var zr io.ReadCloser
	if v := zlibPool.Get(); v != nil {
		zr = v.(io.ReadCloser)
		if err := zr.(zlib.Resetter).Reset(br, nil); err != nil {
			return err
		}
	} else {
		var err error
		if zr, err = zlib.NewReader(br); err != nil {
			return err
		}
	}
	defer zlibPool.Put(zr)
	if _, err := io.ReadFull(zr, dst); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return errSize
		}
		return err
	}
	// Reading on to the end checks the Adler-32 and that nothing is left.
	var one [1]byte
	if n, err := io.ReadAtLeast(zr, one[:], 1); n > 0 {
		return errSize
	} else if !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

// zstdDecoder is shared by all files: DecodeAll is safe for concurrent
// use. Its memory is capped so a hostile frame header cannot make it
// allocate more than a page-sized output.
var zstdDecoder = sync.OnceValues(func() (*zstd.Decoder, error) {
	return zstd.NewReader(nil,
		zstd.WithDecoderConcurrency(0),
		zstd.WithDecoderMaxMemory(2*maxBlockSize),
		zstd.WithDecoderMaxWindow(2*maxBlockSize))
})

// Ranges lists the physical ranges of dumped pages (set in both bitmaps),
// in address order. Excluded pages split ranges.
func (f *File) Ranges() []phys.Range {
	f.rangesOnce.Do(func() {
		if f.bitmapsCut {
			return
		}
		// A bitmap block that cannot be read leaves its pages out; reading
		// them says why.
		f.ranges, _ = runs(f.ram, f.dumped, f.firstPFN, f.endPFN, f.shift)
	})
	return append([]phys.Range(nil), f.ranges...)
}
