package vmem

import "sort"

// Fake is an in-memory Reader made of byte regions, for tests that build
// synthetic kernel structures. Reads outside every region fault.
type Fake struct {
	regions []fakeRegion
}

type fakeRegion struct {
	start uint64
	data  []byte
}

// Map places data at vaddr. Regions must not overlap.
func (f *Fake) Map(vaddr uint64, data []byte) {
	f.regions = append(f.regions, fakeRegion{vaddr, data})
	sort.Slice(f.regions, func(i, j int) bool { return f.regions[i].start < f.regions[j].start })
}

// ReadVirt implements Reader.
func (f *Fake) ReadVirt(buf []byte, vaddr uint64) error {
	for len(buf) > 0 {
		r := f.find(vaddr)
		if r == nil {
			return &FaultError{VAddr: vaddr, Err: ErrNotMapped}
		}
		n := copy(buf, r.data[vaddr-r.start:])
		buf = buf[n:]
		vaddr += uint64(n)
	}
	return nil
}

func (f *Fake) find(vaddr uint64) *fakeRegion {
	i := sort.Search(len(f.regions), func(i int) bool { return f.regions[i].start > vaddr })
	if i == 0 {
		return nil
	}
	r := &f.regions[i-1]
	if vaddr-r.start >= uint64(len(r.data)) {
		return nil
	}
	return r
}
