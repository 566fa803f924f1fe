package vmcore

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/panicscope/panicscope/vmcore/internal/diskdump"
	"github.com/panicscope/panicscope/vmcore/phys"
)

// SplitPart is one file of a makedumpfile --split set: the pfn range
// [StartPFN, EndPFN) its page data covers.
type SplitPart struct {
	Path             string
	StartPFN, EndPFN uint64
}

// Split describes a dump written by makedumpfile --split as several files,
// each holding the pages of one pfn range (with the same headers, notes
// and bitmaps).
type Split struct {
	Parts []SplitPart // the parts read, in pfn order
	// Missing lists the pfn ranges no part read holds: pages there read
	// as phys.NotInDump. Empty when the set is complete.
	Missing []SplitPart
	MaxPFN  uint64 // max_mapnr: the set covers [0, MaxPFN)
}

// maxSplitParts bounds the siblings tried (makedumpfile takes one output
// file per part on its command line).
const maxSplitParts = 256

// digitRun is the last run of digits of a file name: dump.1, vmcore2,
// dumpfile_03.
var digitRun = regexp.MustCompile(`[0-9]+`)

// joinSplitParts, when d is a part of a makedumpfile --split set, looks
// for the other parts beside path (the same name with other digits in
// place of its last run of digits) and reads the set as one dump. It
// records which pfn ranges are held, and which are missing, in d.Split and
// a warning.
func (d *Dump) joinSplitParts(path string, given []string) {
	dd, ok := d.mem.(*diskdump.File)
	if !ok {
		if len(given) > 0 {
			d.warn("other parts were given, but %s is not a part of a makedumpfile --split set: they are not read", path)
		}
		return
	}
	start, end, split := dd.SplitRange()
	if !split {
		if len(given) > 0 {
			d.warn("other parts were given, but %s is not a part of a makedumpfile --split set: they are not read", path)
		}
		return
	}
	parts := []splitFile{{path: path, f: dd, start: start, end: end}}
	seen := map[string]bool{filepath.Clean(path): true}
	var cands []string
	for _, c := range append(append([]string(nil), given...), splitSiblings(path)...) {
		if c = filepath.Clean(c); !seen[c] && len(cands) < maxSplitParts {
			seen[c] = true
			cands = append(cands, c)
		}
	}
	isGiven := map[string]bool{}
	for _, g := range given {
		isGiven[filepath.Clean(g)] = true
	}
	for _, cand := range cands {
		if p, ok := openSplitSibling(cand, dd); ok {
			parts = append(parts, p)
			d.parts = append(d.parts, p.closer)
		} else if isGiven[cand] {
			d.warn("%s is not a part of the same makedumpfile --split set as %s (headers or VMCOREINFO differ, or unreadable): not read", cand, path)
		}
	}
	sort.Slice(parts, func(i, j int) bool { return parts[i].start < parts[j].start })
	s := &Split{MaxPFN: dd.MaxPFN()}
	var kept []splitFile
	var next uint64
	for _, p := range parts {
		if p.start < next { // overlaps a part already taken: not of this set
			if p.closer != nil {
				p.closer.Close()
			}
			continue
		}
		if p.start > next {
			s.Missing = append(s.Missing, SplitPart{StartPFN: next, EndPFN: p.start})
		}
		kept = append(kept, p)
		s.Parts = append(s.Parts, SplitPart{Path: p.path, StartPFN: p.start, EndPFN: p.end})
		next = p.end
	}
	if next < s.MaxPFN {
		s.Missing = append(s.Missing, SplitPart{StartPFN: next, EndPFN: s.MaxPFN})
	}
	d.Split = s
	if len(s.Missing) > 0 {
		var miss []string
		for _, m := range s.Missing {
			miss = append(miss, fmt.Sprintf("pfns %#x-%#x (physical %#x-%#x)", m.StartPFN, m.EndPFN, m.StartPFN*uint64(dd.BlockSize()), m.EndPFN*uint64(dd.BlockSize())))
		}
		var held []string
		for _, p := range s.Parts {
			held = append(held, fmt.Sprintf("%s holds pfns %#x-%#x", filepath.Base(p.Path), p.StartPFN, p.EndPFN))
		}
		d.warn("split dump (makedumpfile --split): %s; not found: %s; pages there are not in the dump",
			strings.Join(held, ", "), strings.Join(miss, ", "))
	}
	for _, p := range kept[1:] {
		if t := diskdumpTruncation(p.f); t != nil && d.Truncation == nil {
			t.Detail = p.path + ": " + t.Detail
			d.Truncation = t
		}
	}
	if len(kept) > 1 {
		m := &splitMemory{shift: uint(bitsOf(dd.BlockSize()))}
		for _, p := range kept {
			m.parts = append(m.parts, p.f)
			m.start = append(m.start, p.start)
			m.end = append(m.end, p.end)
		}
		d.WrapMemory(func(phys.Memory) phys.Memory { return m })
	}
}

type splitFile struct {
	path       string
	f          *diskdump.File
	closer     io.Closer
	start, end uint64
}

// splitSiblings lists the files beside path whose names differ from it
// only in the last run of digits.
func splitSiblings(path string) []string {
	dir, base := filepath.Split(path)
	locs := digitRun.FindAllStringIndex(base, -1)
	if len(locs) == 0 {
		return nil
	}
	l := locs[len(locs)-1]
	pat := regexp.MustCompile("^" + regexp.QuoteMeta(base[:l[0]]) + "[0-9]+" + regexp.QuoteMeta(base[l[1]:]) + "$")
	if dir == "" {
		dir = "."
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		if e.Name() != base && pat.MatchString(e.Name()) && e.Type().IsRegular() && len(out) < maxSplitParts {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	return out
}

// openSplitSibling opens cand and keeps it when it is a part of the same
// set as first: split, same headers (utsname, time, block size, max_mapnr)
// and the same VMCOREINFO.
func openSplitSibling(cand string, first *diskdump.File) (splitFile, bool) {
	fh, err := os.Open(cand)
	if err != nil {
		return splitFile{}, false
	}
	st, err := fh.Stat()
	if err != nil {
		fh.Close()
		return splitFile{}, false
	}
	f, err := diskdump.Open(fh, st.Size())
	if err != nil {
		fh.Close()
		return splitFile{}, false
	}
	start, end, split := f.SplitRange()
	a, b := first.Header(), f.Header()
	same := split && a.UTSName == b.UTSName && a.Timestamp == b.Timestamp && a.BlockSize == b.BlockSize &&
		a.MaxMapnr == b.MaxMapnr && bytes.Equal(first.VMCOREINFO(), f.VMCOREINFO())
	if !same {
		fh.Close()
		return splitFile{}, false
	}
	return splitFile{path: cand, f: f, closer: fh, start: start, end: end}, true
}

func bitsOf(n int) int {
	s := 0
	for 1<<s < n {
		s++
	}
	return s
}

// splitMemory reads physical memory from the part holding each page.
type splitMemory struct {
	parts      []*diskdump.File
	start, end []uint64 // pfn ranges, sorted and disjoint
	shift      uint
}

func (m *splitMemory) ReadPhys(buf []byte, paddr uint64) error {
	for len(buf) > 0 {
		pfn := paddr >> m.shift
		i := sort.Search(len(m.end), func(i int) bool { return m.end[i] > pfn })
		if i == len(m.end) || m.start[i] > pfn {
			return &phys.MissingError{Addr: paddr, Reason: phys.NotInDump}
		}
		n := uint64(len(buf))
		if lim := m.end[i]<<m.shift - paddr; lim < n {
			n = lim
		}
		if err := m.parts[i].ReadPhys(buf[:n], paddr); err != nil {
			return err
		}
		buf, paddr = buf[n:], paddr+n
	}
	return nil
}

// Parts returns the files of the set, in pfn order (trim copies their
// header facts and existing pages).
func (m *splitMemory) Parts() []*diskdump.File { return append([]*diskdump.File(nil), m.parts...) }

// Ranges lists the parts' ranges in address order.
func (m *splitMemory) Ranges() []phys.Range {
	var out []phys.Range
	for _, p := range m.parts {
		for _, r := range p.Ranges() {
			if n := len(out); n > 0 && out[n-1].End == r.Start {
				out[n-1].End = r.End
				continue
			}
			out = append(out, r)
		}
	}
	return out
}
