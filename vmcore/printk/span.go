package printk

import (
	"errors"
	"fmt"

	"github.com/panicscope/panicscope/vmcore/vmem"
)

const (
	pageSize  = 4096
	chunkSize = 1 << 20 // one ReadVirt per array up to this size
	// maxBadPages bounds the page-by-page retries of one Read, so hostile
	// sizes over unmapped memory cannot make it crawl (64 MiB missing).
	maxBadPages = 1 << 14
)

// errBudget marks pages not tried because too many pages were missing.
var errBudget = errors.New("too many missing pages; not read")

// span is a contiguous array in kernel virtual memory (the descriptor or info
// array, the text data ring, log_buf). It is read lazily in big chunks: one
// ReadVirt per chunk, and only when a chunk does not read whole, page by
// page, so that one missing page costs only the records on it.
type span struct {
	mem    vmem.Reader
	base   uint64
	size   uint64
	chunks map[uint64]*chunk
	budget *int // shared count of page failures still allowed
}

type chunk struct {
	data  []byte
	start uint64  // offset of data[0] in the span
	bad   []error // per page of the chunk, nil when read; nil slice when whole
	dead  error   // set when not read at all
}

// exhausted reports whether the shared budget of missing pages is spent.
func (s *span) exhausted() bool { return *s.budget <= 0 }

func newSpan(mem vmem.Reader, base, size uint64, budget *int) (*span, error) {
	if size == 0 || base+size < base {
		return nil, fmt.Errorf("printk: bad array %#x+%#x", base, size)
	}
	return &span{mem: mem, base: base, size: size, chunks: make(map[uint64]*chunk), budget: budget}, nil
}

// get returns n bytes at off. The slice may alias the span's buffer: callers
// must not keep or modify it. A missing page gives its *vmem.FaultError.
func (s *span) get(off, n uint64) ([]byte, error) {
	if off > s.size || n > s.size-off {
		return nil, fmt.Errorf("printk: read %#x+%#x outside array of %#x bytes", off, n, s.size)
	}
	if n == 0 {
		return nil, nil
	}
	ci := off / chunkSize
	if (off+n-1)/chunkSize == ci {
		c := s.load(ci)
		if err := c.check(off, n, s.base); err != nil {
			return nil, err
		}
		return c.data[off-c.start : off-c.start+n], nil
	}
	out := make([]byte, 0, n)
	for n > 0 {
		c := s.load(off / chunkSize)
		m := c.start + uint64(len(c.data)) - off
		if m > n {
			m = n
		}
		if err := c.check(off, m, s.base); err != nil {
			return nil, err
		}
		out = append(out, c.data[off-c.start:off-c.start+m]...)
		off += m
		n -= m
	}
	return out, nil
}

func (s *span) load(ci uint64) *chunk {
	if c := s.chunks[ci]; c != nil {
		return c
	}
	start := ci * chunkSize
	end := start + chunkSize
	if end > s.size {
		end = s.size
	}
	if s.exhausted() {
		// Allocate nothing more: a dead chunk, not cached, answers for
		// every page of it.
		return &chunk{data: make([]byte, 0), start: start, dead: &vmem.FaultError{VAddr: s.base + start, Err: errBudget}}
	}
	c := &chunk{data: make([]byte, end-start), start: start}
	s.chunks[ci] = c
	if err := s.mem.ReadVirt(c.data, s.base+start); err == nil {
		return c
	}
	// Page by page; pages are aligned on virtual addresses. Work in
	// offsets from va: near the top of the address space page ends would
	// overflow.
	va := s.base + start
	skew := va & (pageSize - 1)
	c.bad = make([]error, (skew+end-start+pageSize-1)/pageSize)
	for p := range c.bad {
		lo := max(uint64(p)*pageSize, skew) - skew
		hi := min(uint64(p+1)*pageSize-skew, end-start)
		if *s.budget <= 0 {
			c.bad[p] = &vmem.FaultError{VAddr: va + lo, Err: errBudget}
			continue
		}
		buf := c.data[lo:hi]
		if err := s.mem.ReadVirt(buf, va+lo); err != nil {
			var fe *vmem.FaultError
			if !errors.As(err, &fe) {
				err = &vmem.FaultError{VAddr: va + lo, Err: err}
			}
			c.bad[p] = err
			*s.budget--
			clear(buf)
		}
	}
	return c
}

// check reports the first missing page in [off, off+n) of the span.
func (c *chunk) check(off, n, base uint64) error {
	if c.dead != nil {
		return c.dead
	}
	if c.bad == nil {
		return nil
	}
	first := (base + c.start) &^ (pageSize - 1)
	for p := ((base + off) - first) / pageSize; p <= (base+off+n-1-first)/pageSize; p++ {
		if p < uint64(len(c.bad)) && c.bad[p] != nil {
			return c.bad[p]
		}
	}
	return nil
}
