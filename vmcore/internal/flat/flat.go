// Package flat reads makedumpfile's "flattened" stream (makedumpfile -F,
// and QEMU's kdump-* output since 7.2) as the file it describes, without
// writing a reassembled copy.
//
// The stream is a 4 KiB struct makedumpfile_header (signature
// "makedumpfile", type, version; big-endian) followed by records, each a
// big-endian struct makedumpfile_data_header {int64 offset; int64 buf_size}
// and buf_size bytes to put at offset of the rearranged file, ended by a
// record with offset = buf_size = -1. makedumpfile -R rebuilds the file by
// writing the records in order; Open indexes them once instead.
package flat

import (
	"container/heap"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sort"
)

// ErrNotFlattened is returned when the input does not start with the
// makedumpfile flattened header.
var ErrNotFlattened = errors.New("not a makedumpfile flattened stream")

const (
	// MAX_SIZE_MDF_HEADER: the header occupies one 4 KiB block.
	headerSize = 4096
	// TYPE_FLAT_HEADER is the only header type makedumpfile writes.
	typeFlatHeader = 1
	// sizeof(struct makedumpfile_data_header).
	recHeaderSize = 16
	// END_FLAG_FLAT_HEADER.
	endFlag = -1
)

// signature is MAKEDUMPFILE_SIGNATURE with its NUL: the field is char[16].
var signature = []byte("makedumpfile\x00")

// segment maps [dst, dst+n) of the rearranged file to [src, src+n) of the
// stream. Segments in Reader.segs are sorted by dst and never overlap.
type segment struct {
	dst, n, src int64
}

// Reader is the rearranged file. It implements io.ReaderAt and is safe
// for concurrent use (it only reads the underlying io.ReaderAt).
type Reader struct {
	r         io.ReaderAt
	segs      []segment
	size      int64
	version   int64
	records   int
	truncated bool
	overlaps  bool
}

// Open checks the header and scans every record once, building an index
// of where each byte of the rearranged file lives in r. size is r's size.
//
// A stream cut short (no end marker, or the last record's data missing its
// tail) opens with Truncated() true and the bytes that are present; a
// record that claims more data than the whole input, or a negative offset
// or size, is an error.
func Open(r io.ReaderAt, size int64) (*Reader, error) {
	if size < int64(len(signature)) {
		return nil, ErrNotFlattened
	}
	var hdr [32]byte // signature[16], int64 type, int64 version
	n, err := r.ReadAt(hdr[:], 0)
	if n < len(signature) {
		if err == nil || errors.Is(err, io.EOF) {
			return nil, ErrNotFlattened
		}
		return nil, fmt.Errorf("flattened header: %w", err)
	}
	if string(hdr[:len(signature)]) != string(signature) {
		return nil, ErrNotFlattened
	}
	if size < headerSize || n < len(hdr) {
		return nil, fmt.Errorf("flattened header: stream is %d bytes, shorter than its %d-byte header", size, headerSize)
	}
	typ := int64(binary.BigEndian.Uint64(hdr[16:]))
	if typ != typeFlatHeader {
		return nil, fmt.Errorf("flattened header: type %d, want %d (TYPE_FLAT_HEADER)", typ, typeFlatHeader)
	}
	fr := &Reader{r: r, version: int64(binary.BigEndian.Uint64(hdr[24:]))}
	recs, err := fr.scan(size)
	if err != nil {
		return nil, err
	}
	fr.records = len(recs)
	fr.segs, fr.overlaps = resolve(recs)
	for _, s := range fr.segs {
		if end := s.dst + s.n; end > fr.size {
			fr.size = end
		}
	}
	return fr, nil
}

// record is one data record in stream order.
type record struct {
	dst, n, src int64
}

// scanBuf is how much of the stream scan reads at a time: records are
// read through a window so that a stream of many small records does not
// cost one ReadAt per header.
const scanBuf = 64 << 10

func (fr *Reader) scan(size int64) ([]record, error) {
	var recs []record
	buf := make([]byte, scanBuf)
	bufOff, bufLen := int64(0), 0 // window [bufOff, bufOff+bufLen) of the stream
	readHeader := func(off int64) ([]byte, error) {
		if off < bufOff || off+recHeaderSize > bufOff+int64(bufLen) {
			want := int64(len(buf))
			if rem := size - off; rem < want {
				want = rem
			}
			n, err := fr.r.ReadAt(buf[:want], off)
			if n < int(want) && err != nil && !errors.Is(err, io.EOF) {
				return nil, err
			}
			bufOff, bufLen = off, n
		}
		i := int(off - bufOff)
		if i+recHeaderSize > bufLen {
			return nil, io.ErrUnexpectedEOF
		}
		return buf[i : i+recHeaderSize], nil
	}

	off := int64(headerSize)
	for {
		if off+recHeaderSize > size {
			// No end marker: makedumpfile was interrupted, or the copy was cut.
			fr.truncated = true
			return recs, nil
		}
		h, err := readHeader(off)
		if err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				fr.truncated = true
				return recs, nil
			}
			return nil, fmt.Errorf("flattened record at %#x: %w", off, err)
		}
		dst := int64(binary.BigEndian.Uint64(h[0:]))
		n := int64(binary.BigEndian.Uint64(h[8:]))
		if dst == endFlag {
			return recs, nil
		}
		switch {
		case dst < 0:
			return nil, fmt.Errorf("flattened record at %#x: negative offset %d", off, dst)
		case n < 0:
			return nil, fmt.Errorf("flattened record at %#x: negative size %d", off, n)
		case n > size:
			return nil, fmt.Errorf("flattened record at %#x: size %d exceeds the %d-byte stream", off, n, size)
		case dst > (1<<63-1)-n:
			return nil, fmt.Errorf("flattened record at %#x: offset %#x + size %d overflows", off, dst, n)
		}
		src := off + recHeaderSize
		if avail := size - src; n > avail {
			// Only the last record can run past the end: keep what is there.
			fr.truncated = true
			if avail > 0 {
				recs = append(recs, record{dst, avail, src})
			}
			return recs, nil
		}
		if n > 0 {
			recs = append(recs, record{dst, n, src})
		}
		off = src + n
	}
}

// resolve turns records in write order into sorted, disjoint segments
// where each byte comes from the last record that wrote it, which is what
// makedumpfile -R produces by writing them in order. It reports whether
// any records overlapped.
func resolve(recs []record) ([]segment, bool) {
	order := make([]int, len(recs))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return recs[order[a]].dst < recs[order[b]].dst })
	overlap := false
	for k := 1; k < len(order); k++ {
		p, c := recs[order[k-1]], recs[order[k]]
		if c.dst < p.dst+p.n {
			overlap = true
			break
		}
	}
	if !overlap {
		segs := make([]segment, len(order))
		for k, i := range order {
			r := recs[i]
			segs[k] = segment(r)
		}
		return coalesce(segs), false
	}
	return sweep(recs, order), true
}

// sweep resolves overlapping records in O(n log n): walking the start and
// end points in address order, a max-heap of the records covering the
// current point (by write order) names the last writer of each piece.
func sweep(recs []record, byStart []int) []segment {
	ends := make([]int, len(recs))
	copy(ends, byStart)
	sort.Slice(ends, func(a, b int) bool {
		ra, rb := recs[ends[a]], recs[ends[b]]
		return ra.dst+ra.n < rb.dst+rb.n
	})
	alive := make([]bool, len(recs))
	h := &seqHeap{}
	var segs []segment
	si, ei := 0, 0
	var pos int64
	for si < len(byStart) || ei < len(ends) {
		// Next event point: the nearest start or end.
		next := int64(1<<63 - 1)
		if si < len(byStart) {
			next = recs[byStart[si]].dst
		}
		if ei < len(ends) {
			if e := recs[ends[ei]].dst + recs[ends[ei]].n; e < next {
				next = e
			}
		}
		// Emit [pos, next) from the newest live record.
		for h.Len() > 0 && !alive[(*h)[0]] {
			heap.Pop(h)
		}
		if h.Len() > 0 && next > pos {
			w := recs[(*h)[0]]
			segs = append(segs, segment{pos, next - pos, w.src + (pos - w.dst)})
		}
		pos = next
		for ei < len(ends) && recs[ends[ei]].dst+recs[ends[ei]].n == pos {
			alive[ends[ei]] = false
			ei++
		}
		for si < len(byStart) && recs[byStart[si]].dst == pos {
			alive[byStart[si]] = true
			heap.Push(h, byStart[si])
			si++
		}
	}
	return coalesce(segs)
}

// seqHeap is a max-heap of record indexes (= write order).
type seqHeap []int

func (h seqHeap) Len() int           { return len(h) }
func (h seqHeap) Less(i, j int) bool { return h[i] > h[j] }
func (h seqHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *seqHeap) Push(x any)        { *h = append(*h, x.(int)) }
func (h *seqHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// coalesce merges neighbours that are contiguous in both files, which
// keeps the index small for streams written in order.
func coalesce(segs []segment) []segment {
	out := segs[:0]
	for _, s := range segs {
		if k := len(out) - 1; k >= 0 && out[k].dst+out[k].n == s.dst && out[k].src+out[k].n == s.src {
			out[k].n += s.n
			continue
		}
		out = append(out, s)
	}
	return out
}

// Size is the size of the rearranged file: the end of the furthest record.
func (fr *Reader) Size() int64 { return fr.size }

// NextData returns the first offset at or after off that some record
// wrote (bytes before it read as zeros), or Size() when none does; the
// bool is always true. Readers of large, mostly empty areas (diskdump
// bitmaps) use it to skip what the stream never stored.
func (fr *Reader) NextData(off int64) (int64, bool) {
	i := sort.Search(len(fr.segs), func(i int) bool { return fr.segs[i].dst+fr.segs[i].n > off })
	if i == len(fr.segs) {
		return max(off, fr.size), true
	}
	return max(off, fr.segs[i].dst), true
}

// Truncated reports that the stream ended without its end marker or in
// the middle of a record.
func (fr *Reader) Truncated() bool { return fr.truncated }

// Records is the number of non-empty data records in the stream.
func (fr *Reader) Records() int { return fr.records }

// Overlapping reports whether some records rewrote bytes of earlier ones.
func (fr *Reader) Overlapping() bool { return fr.overlaps }

// Version is the header's version field (VERSION_FLAT_HEADER is 1).
func (fr *Reader) Version() int64 { return fr.version }

// ReadAt reads the rearranged file. Bytes no record wrote read as zeros,
// as in the sparse file makedumpfile -R leaves.
func (fr *Reader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("flat: negative offset")
	}
	if off >= fr.size {
		if len(p) == 0 {
			return 0, nil
		}
		return 0, io.EOF
	}
	want := p
	var err error
	if rem := fr.size - off; int64(len(p)) > rem {
		want, err = p[:rem], io.EOF
	}
	// First segment ending after off.
	i := sort.Search(len(fr.segs), func(i int) bool { return fr.segs[i].dst+fr.segs[i].n > off })
	done := 0
	for done < len(want) {
		pos := off + int64(done)
		if i >= len(fr.segs) || fr.segs[i].dst > pos {
			// Gap up to the next segment (or to the end).
			gap := len(want) - done
			if i < len(fr.segs) {
				if g := fr.segs[i].dst - pos; g < int64(gap) {
					gap = int(g)
				}
			}
			clear(want[done : done+gap])
			done += gap
			continue
		}
		s := fr.segs[i]
		k := s.dst + s.n - pos
		if k > int64(len(want)-done) {
			k = int64(len(want) - done)
		}
		n, rerr := fr.r.ReadAt(want[done:done+int(k)], s.src+(pos-s.dst))
		done += n
		if n < int(k) {
			if rerr == nil || errors.Is(rerr, io.EOF) {
				rerr = io.ErrUnexpectedEOF
			}
			return done, fmt.Errorf("flat: reading record data at %#x: %w", s.src+(pos-s.dst), rerr)
		}
		i++
	}
	return done, err
}
