package trim

import (
	"errors"
	"slices"
	"sync"

	"github.com/panicscope/panicscope/vmcore/phys"
)

// Recorder is a phys.Memory decorator that records which page frames were
// read through it: those read successfully, and, for reads that failed on
// an absent page, that page and why it was absent. It is safe for
// concurrent use.
type Recorder struct {
	mem phys.Memory

	mu      sync.Mutex
	read    map[uint64]struct{}
	missing map[uint64]phys.MissingReason
	last    uint64 // last pfn recorded + 1 (0: none), skips the map for runs of small reads
}

// NewRecorder wraps mem.
func NewRecorder(mem phys.Memory) *Recorder {
	return &Recorder{mem: mem, read: map[uint64]struct{}{}, missing: map[uint64]phys.MissingReason{}}
}

// Inner is the wrapped memory.
func (r *Recorder) Inner() phys.Memory { return r.mem }

// ReadPhys reads through to the wrapped memory and records the pages the
// read consumed: all of [paddr, paddr+len(buf)) on success; on a
// *phys.MissingError, the pages before the missing byte as read and the
// missing byte's page as missing. Other errors (a corrupt page) record
// nothing.
func (r *Recorder) ReadPhys(buf []byte, paddr uint64) error {
	err := r.mem.ReadPhys(buf, paddr)
	if len(buf) == 0 {
		return err
	}
	end := paddr + uint64(len(buf)) // exclusive; may wrap to 0 at the top
	var me *phys.MissingError
	switch {
	case err == nil:
	case errors.As(err, &me) && me.Addr-paddr < uint64(len(buf)):
		end = me.Addr
	default:
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if end != paddr {
		first, lastPFN := paddr/phys.PageSize, (end-1)/phys.PageSize
		for pfn := first; ; pfn++ {
			if r.last != pfn+1 {
				r.read[pfn] = struct{}{}
				r.last = pfn + 1
			}
			if pfn == lastPFN {
				break
			}
		}
	}
	if me != nil {
		pfn := me.Addr / phys.PageSize
		if _, ok := r.missing[pfn]; !ok {
			r.missing[pfn] = me.Reason
		}
	}
	return err
}

// Ranges passes the wrapped memory's ranges through, so that code that
// sizes things from them (the translator's direct-map bound) behaves as
// without the recorder. Nil when the wrapped memory has none.
func (r *Recorder) Ranges() []phys.Range {
	if rg, ok := r.mem.(phys.Ranger); ok {
		return rg.Ranges()
	}
	return nil
}

// PFNs lists the page frames read successfully, in order.
func (r *Recorder) PFNs() []uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]uint64, 0, len(r.read))
	for pfn := range r.read {
		out = append(out, pfn)
	}
	slices.Sort(out)
	return out
}

// Missing lists the absent page frames that reads stopped at, with the
// reason the wrapped memory gave.
func (r *Recorder) Missing() map[uint64]phys.MissingReason {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[uint64]phys.MissingReason, len(r.missing))
	for k, v := range r.missing {
		out[k] = v
	}
	return out
}

var (
	_ phys.Memory = (*Recorder)(nil)
	_ phys.Ranger = (*Recorder)(nil)
)
