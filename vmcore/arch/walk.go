package arch

import (
	"errors"
	"fmt"
	"sync"

	"github.com/panicscope/panicscope/vmcore/phys"
	"github.com/panicscope/panicscope/vmcore/vmem"
)

// TranslateFunc maps vaddr to a physical address and the number of bytes
// from there that are physically contiguous (to the end of its page or
// block).
type TranslateFunc func(vaddr uint64) (paddr, span uint64, err error)

// ReadVirt fills buf from kernel virtual memory at vaddr, one contiguous
// piece at a time, for every architecture's translator. A page that is not
// in the dump is a *vmem.FaultError naming the first byte that could not be
// read, wrapping the *phys.MissingError; name ("x86", "arm64") prefixes
// other errors.
func ReadVirt(mem phys.Memory, translate TranslateFunc, name string, buf []byte, vaddr uint64) error {
	for len(buf) > 0 {
		paddr, span, err := translate(vaddr)
		if err != nil {
			return err
		}
		n := min(uint64(len(buf)), span)
		if err := mem.ReadPhys(buf[:n], paddr); err != nil {
			var me *phys.MissingError
			if errors.As(err, &me) {
				fa := vaddr
				if me.Addr >= paddr && me.Addr-paddr < n {
					fa = vaddr + (me.Addr - paddr)
				}
				return &vmem.FaultError{VAddr: fa, Err: err}
			}
			return fmt.Errorf("%s: reading %#x (physical %#x): %w", name, vaddr, paddr, err)
		}
		buf = buf[n:]
		vaddr += n
	}
	return nil
}

// TLB is a direct-mapped cache of walked page → frame translations, safe
// for concurrent use. The zero value is unusable: make one with NewTLB.
type TLB struct {
	mu sync.Mutex
	e  []tlbEntry
}

type tlbEntry struct {
	vpn, pfn uint64
	valid    bool
}

// NewTLB makes a TLB of n entries.
func NewTLB(n int) *TLB { return &TLB{e: make([]tlbEntry, max(n, 1))} }

// Get returns the frame cached for virtual page vpn.
func (c *TLB) Get(vpn uint64) (uint64, bool) {
	c.mu.Lock()
	e := c.e[vpn%uint64(len(c.e))]
	c.mu.Unlock()
	if e.valid && e.vpn == vpn {
		return e.pfn, true
	}
	return 0, false
}

// Put caches vpn → pfn.
func (c *TLB) Put(vpn, pfn uint64) {
	c.mu.Lock()
	c.e[vpn%uint64(len(c.e))] = tlbEntry{vpn: vpn, pfn: pfn, valid: true}
	c.mu.Unlock()
}
