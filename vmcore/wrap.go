package vmcore

import "github.com/panicscope/panicscope/vmcore/phys"

// WrapMemory replaces the dump's physical memory m with wrap(m), e.g. a
// decorator that records or counts reads, and rebuilds the address
// translator over the new memory: the translator holds the memory it was
// built with, and rebuilding it repeats its set-up reads (page_offset_base,
// the page-table walk that checks it) through the new memory, with an
// empty translation cache, so page-table pages are seen too. The VMCOREINFO
// memory scan done by Open is not repeated.
//
// Call it right after Open, before the dump is used: it is not safe to
// call while other goroutines read. A running system (OpenLive) reads
// virtual addresses straight from kcore: those reads bypass the wrapper.
func (d *Dump) WrapMemory(wrap func(phys.Memory) phys.Memory) {
	d.mem = wrap(d.mem)
	if d.info == nil || d.arch == nil {
		return
	}
	old := d.trans
	d.trans = nil
	if err := d.setupTranslation(); err != nil && old != nil {
		// It worked over the unwrapped memory: the wrapper changed what
		// reads return.
		d.warn("address translation over wrapped memory: %v", err)
	}
}
