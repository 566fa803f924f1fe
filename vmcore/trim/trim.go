// Package trim writes a small copy of a crash dump that holds only the
// pages panicscope's analysis reads: the dump's physical memory is wrapped
// in a Recorder, everything the report needs is read once (target.Open:
// symbols, BTF, modules; analysis.Build: chains, dumpers, parameters, CPUs,
// pstore, consoles, the whole kernel log), and the recorded pages are
// written as a kdump-compressed file (makedumpfile's diskdump format) with
// the source's notes, VMCOREINFO and header facts.
//
// Each CPU's stack is also unwound (as "panicscope bt" does), and a few
// kernel variables crash and makedumpfile need to start are read (see
// readForTools); page-table pages used by translations are kept because
// they are read through the same memory.
//
// The copy never holds a page that was not read: no user memory, no page
// cache, no free pages. Opened again, it gives the same report; what may
// differ is listed in ContainerFields.
package trim

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/panicscope/panicscope/vmcore"
	"github.com/panicscope/panicscope/vmcore/analysis"
	"github.com/panicscope/panicscope/vmcore/finding"
	"github.com/panicscope/panicscope/vmcore/internal/diskdump"
	"github.com/panicscope/panicscope/vmcore/internal/elfcore"
	"github.com/panicscope/panicscope/vmcore/notes"
	"github.com/panicscope/panicscope/vmcore/phys"
	"github.com/panicscope/panicscope/vmcore/target"
	"github.com/panicscope/panicscope/vmcore/unwind"
)

// DumpLevel is the makedumpfile -d level written to the copy: every
// exclusion class (zero, cache, private cache, user, free pages). The copy
// excludes more than that (every page the analysis did not read); readers
// only need to know that it is filtered.
const DumpLevel = 31

// ContainerFields are the JSON paths of analysis.Report that describe the
// file rather than the crash, and so may differ between a dump and its
// trimmed copy; every other field is identical.
//
//   - identity.format: always "kdump-compressed" (the source may be ELF
//     or a flattened stream).
//   - identity.compression: "zlib" or "zstd", as chosen.
//   - identity.filtered, identity.dump_level: true and 31.
//   - identity.vmcoreinfo_source: "kdump header" when the source's
//     VMCOREINFO came from an ELF note of an ELF core (it is also stored in
//     the sub header, as makedumpfile does) or from a memory scan (the
//     scanned text is stored in the sub header).
//   - identity.problems: warnings about the container (the memory-scan
//     warning goes with the scan).
//
// identity.incomplete is kept (the copy carries the source's
// DUMP_DH_COMPRESSED_INCOMPLETE flag, and pages a read found beyond the
// end of a cut-short source are written with zeroed descriptors, so they
// still read as beyond the end). Outside the JSON, the header's
// total_ram_blocks, the sub header's offsets and, for ELF sources, the
// header's utsname and phys_base (taken from the kernel) are the copy's own.
// Pages of the source that were corrupt (failed to decompress) are not
// kept: a read of one gives "excluded" in the copy.
var ContainerFields = []string{
	"identity.format",
	"identity.compression",
	"identity.filtered",
	"identity.dump_level",
	"identity.vmcoreinfo_source",
	"identity.problems",
}

// Options choose how a dump is trimmed.
type Options struct {
	// Target is how the dump is opened for the analysis (System.map,
	// DWARF vmlinux). When it names files, the analysis also runs once
	// without them, so the copy opens either way.
	Target target.Options
	// Compression of the copy's pages: "zlib" (the default: crash and
	// makedumpfile read it everywhere) or "zstd" (smaller; needs
	// makedumpfile >= 1.7.0 / crash >= 8.0.1 built with zstd).
	Compression string
	// Extra, when set, is called after analysis.Build with the target
	// being recorded: pages it reads are kept too (e.g. backtraces a view
	// needs).
	Extra func(t *target.Target)
}

// Result says what was kept.
type Result struct {
	SourceFormat   string
	SourceBytes    int64
	SourcePages    uint64 // pages the source holds data for
	ExistingPages  uint64 // pages of the machine's memory (1st bitmap)
	KeptPages      int    // pages with data in the copy
	ZeroPages      int    // of KeptPages, all-zero ones (stored once)
	LostPages      int    // pages read as beyond the end of the source, kept as such
	Bytes          int64  // size of the copy
	VMCOREINFOFrom string // where the copy's sub-header VMCOREINFO came from ("" if none)
	Report         *analysis.Report
	Problems       finding.List // pages that could not be copied (subject: page ADDRESS)
	ReadTime       time.Duration
	WriteTime      time.Duration
}

// File trims the dump at src into dst (replaced atomically). When ctx is
// cancelled (the command's SIGINT) the copy being written stops and its
// temporary file is removed; dst is left as it was.
func File(ctx context.Context, src, dst string, opt Options) (*Result, error) {
	t, rec, err := openRecorded(src, opt.Target)
	if err != nil {
		return nil, err
	}
	defer t.Close()
	var size int64
	if st, err := os.Stat(src); err == nil {
		size = st.Size()
	}
	res, w, err := Record(t, rec, opt)
	if err != nil {
		return nil, err
	}
	res.SourceBytes = size
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("trim: %w", err)
	}

	start := time.Now()
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".tmp*")
	if err != nil {
		return nil, fmt.Errorf("trim: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename this fails harmlessly
	st, err := w.Write(ctxWriter{ctx, tmp})
	if err == nil {
		err = tmp.Close()
	} else {
		tmp.Close()
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), dst)
	}
	if err != nil {
		return nil, fmt.Errorf("trim: writing %s: %w", dst, err)
	}
	res.KeptPages, res.ZeroPages, res.LostPages, res.Bytes = st.Pages, st.ZeroPages, st.LostPages, st.Bytes
	res.ExistingPages = st.Existing
	res.WriteTime = time.Since(start)
	return res, nil
}

// ctxWriter fails every write once ctx is done, which stops the writer.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}

// openRecorded opens src through target with its physical memory wrapped
// in a Recorder. The target carries no symbol or vmlinux files: Record runs
// the analysis without them first, so the copy opens either way.
func openRecorded(src string, opt target.Options) (*target.Target, *Recorder, error) {
	var rec *Recorder
	opt.SymbolsFile, opt.Vmlinux, opt.Force = "", "", false
	opt.WrapMemory = func(m phys.Memory) phys.Memory {
		rec = NewRecorder(m)
		return rec
	}
	t, err := target.Open(src, opt)
	if err != nil {
		return nil, nil, err
	}
	return t, rec, nil
}

// Record runs what the analysis reads on t, whose memory rec wraps (see
// openRecorded), and returns a Writer holding the pages read, ready to
// write. When opt.Target names a System.map or a vmlinux, the analysis runs
// again with them on a variant of t, so their pages are kept too.
func Record(t *target.Target, rec *Recorder, opt Options) (*Result, *diskdump.Writer, error) {
	d := t.Dump
	if d.Live() {
		return nil, nil, errors.New("trim: a running system cannot be trimmed; take a dump first")
	}
	start := time.Now()
	passes := []*target.Target{t}
	if to := opt.Target; to.SymbolsFile != "" || to.Vmlinux != "" {
		v, err := t.Variant(to)
		if err != nil {
			return nil, nil, err
		}
		defer v.Close()
		passes = append(passes, v)
	}
	var report *analysis.Report
	for _, pt := range passes {
		report = analysis.Build(pt) // reads the whole kernel log through t.Log()
		unwindCPUs(pt)
		readForTools(pt)
		if opt.Extra != nil {
			opt.Extra(pt)
		}
	}
	walkKept(d, rec)
	res := &Result{SourceFormat: string(d.Format), Report: report, ReadTime: time.Since(start)}

	wo, exists, err := writeOptions(d, rec.Inner(), res)
	if err != nil {
		return nil, nil, err
	}
	// The copy's bitmaps end after the highest page read (kept or
	// missing), not at the source's max_mapnr: its size follows what it
	// keeps, whatever the header claims (one flipped bit in max_mapnr_64
	// asked for 2 x 128 GiB of zero bitmap). Every page read keeps its
	// state (present, excluded, missing) in the copy.
	wo.MaxMapnr = min(wo.MaxMapnr, mapnrFor(rec))
	wo.Compression = opt.Compression
	w, err := diskdump.NewWriter(wo)
	if err != nil {
		return nil, nil, fmt.Errorf("trim: %w", err)
	}
	for _, r := range exists {
		w.SetExists(r.Start/phys.PageSize, (r.End+phys.PageSize-1)/phys.PageSize)
	}

	keep := rec.PFNs()
	if d.InfoSource == vmcore.InfoFromMemoryScan {
		// The page the scan found VMCOREINFO in (the scan itself ran
		// before recording started).
		keep = append(keep, d.InfoAddr/phys.PageSize)
	}
	src := rec.Inner()
	page := make([]byte, phys.PageSize)
	for _, pfn := range keep {
		if pfn >= wo.MaxMapnr {
			res.Problems.Addf(finding.Limit, finding.About(finding.AreaPage, fmt.Sprintf("%#x", pfn*phys.PageSize)), "pfn %#x is beyond max_mapnr %#x: not kept", pfn, wo.MaxMapnr)
			continue
		}
		if err := src.ReadPhys(page, pfn*phys.PageSize); err != nil {
			// A page read in part (an ELF segment ending mid-page) or
			// corrupt: the copy leaves it out.
			res.Problems.Add(finding.New(finding.KindOf(err, finding.Damaged, phys.IsMissing), finding.About(finding.AreaPage, fmt.Sprintf("%#x", pfn*phys.PageSize)), fmt.Errorf("pfn %#x not kept: %w", pfn, err)))
			continue
		}
		if err := w.AddPage(pfn, page); err != nil {
			return nil, nil, fmt.Errorf("trim: %w", err)
		}
	}
	for pfn, why := range rec.Missing() {
		// Excluded and not-in-dump pages read the same from the copy
		// through its 1st bitmap; pages past the end of a cut-short
		// source get zeroed descriptors so they still read as such.
		if why == phys.BeyondEnd && pfn < wo.MaxMapnr {
			if err := w.AddLost(pfn); err != nil {
				return nil, nil, fmt.Errorf("trim: %w", err)
			}
		}
	}
	return res, w, nil
}

// mapnrGranule rounds the copy's max_mapnr up to a whole 4 KiB bitmap
// block (32768 pfns, 128 MiB of memory).
const mapnrGranule = 1 << 15

// mapnrFor is one past the highest pfn rec saw read, rounded up.
func mapnrFor(rec *Recorder) uint64 {
	var top uint64
	for _, pfn := range rec.PFNs() {
		top = max(top, pfn+1)
	}
	for pfn := range rec.Missing() {
		top = max(top, pfn+1)
	}
	return (top + mapnrGranule - 1) / mapnrGranule * mapnrGranule
}

// unwindCPUs walks every CPU's stack from its saved registers, as
// "panicscope bt" does, so the copy holds the ORC tables, stacks and
// current tasks a backtrace reads.
func unwindCPUs(t *target.Target) {
	if t.Syms == nil || t.Kernel.Types == nil {
		return
	}
	release := ""
	if info := t.Dump.VMCOREINFO(); info != nil {
		release = info.OSRelease()
	}
	u, err := unwind.NewKernel(t.Dump.Arch(), t.Kernel, t.Syms, release)
	if err != nil {
		return
	}
	for i, c := range t.Dump.CPUs {
		u.UnwindCPU(i, c.Regs)
	}
}

// CrashVariables are kernel variables read (and so kept) besides what the
// analysis reads, so that crash can open the copy: its x86_64 start-up
// reads page_offset_base to place the direct map (x86_64_init), and with it
// "crash --minimal" runs log, rd, dis and sym on the copy. Full crash mode
// needs task, run-queue and memory-management pages that are not kept.
var CrashVariables = []string{"page_offset_base"}

// maxSectionRoots bounds the mem_section root array read for makedumpfile
// (NR_SECTION_ROOTS is 4096 with 46 physical address bits, 2^19 with 52).
const maxSectionRoots = 1 << 20

// readForTools reads what crash and makedumpfile need to start on the copy
// and the analysis does not: CrashVariables, and for makedumpfile's
// --dump-dmesg the node_online_map and the SPARSEMEM mem_section arrays
// (get_nodes_online, get_mm_sparsemem), located through VMCOREINFO. All are
// kernel data, not user memory.
func readForTools(t *target.Target) {
	d := t.Dump
	if t.Syms != nil {
		for _, name := range CrashVariables {
			if s, ok := t.Syms.Lookup(name); ok {
				var b [8]byte
				_ = d.ReadVirt(b[:], s.Addr) // absent: crash will say so
			}
		}
	}
	info := d.VMCOREINFO()
	if info == nil {
		return
	}
	if addr, err := info.Symbol("node_online_map"); err == nil {
		if n, err := info.Size("nodemask_t"); err == nil && n > 0 && n <= phys.PageSize {
			_ = d.ReadVirt(make([]byte, n), addr)
		}
	}
	// mem_section: with SPARSEMEM_EXTREME, VMCOREINFO's SYMBOL(mem_section)
	// is the root array (NR_SECTION_ROOTS pointers, each to a page of
	// struct mem_section).
	roots, err := info.Symbol("mem_section")
	if err != nil {
		return
	}
	n, err := info.Length("mem_section")
	size, serr := info.Size("mem_section")
	if err != nil || serr != nil || n <= 0 || n > maxSectionRoots || size <= 0 {
		return
	}
	// A page at a time: pages of the array that hold only NULL roots are
	// zero pages, which dump filters leave out.
	perRoot := phys.PageSize / size
	page := make([]byte, phys.PageSize)
	for off := uint64(0); off < uint64(8*n); off += phys.PageSize {
		chunk := page[:min(phys.PageSize, uint64(8*n)-off)]
		if d.ReadVirt(chunk, roots+off) != nil {
			continue
		}
		for i := 0; i+8 <= len(chunk); i += 8 {
			if p := binary.LittleEndian.Uint64(chunk[i:]); p != 0 {
				_ = d.ReadVirt(make([]byte, perRoot*size), p)
			}
		}
	}
}

// walkKept walks the page tables for the kernel addresses of every page
// read so far, and of every absent page a read stopped at: its linear-map
// aliases (x86_64: the direct-map address and, for pages of the kernel
// image, the kernel-text address). A page read through another alias, or
// whose translation was cached, did not read these tables, but
// makedumpfile and crash walk them, so their pages are kept too (a few
// dozen: the direct map and the image are mapped with 1 GiB and 2 MiB
// pages).
func walkKept(d *vmcore.Dump, rec *Recorder) {
	tr := d.Translator()
	if tr == nil {
		return
	}
	walk := func(pfn uint64) {
		for _, va := range tr.LinearAliases(pfn * phys.PageSize) {
			_, _ = tr.Walk(va)
		}
	}
	for _, pfn := range rec.PFNs() {
		walk(pfn)
	}
	for pfn := range rec.Missing() {
		walk(pfn)
	}
}

// writeOptions takes the header facts, notes, VMCOREINFO and the set of
// existing pages from the source.
func writeOptions(d *vmcore.Dump, src phys.Memory, res *Result) (diskdump.WriteOptions, []phys.Range, error) {
	wo := diskdump.WriteOptions{DumpLevel: DumpLevel, Incomplete: d.Incomplete}
	var exists []phys.Range
	// A makedumpfile --split set read as one dump.
	type splitParts interface{ Parts() []*diskdump.File }
	if sp, ok := src.(splitParts); ok {
		parts := sp.Parts()
		if err := fromDiskdump(&wo, res, parts[0]); err != nil {
			return wo, nil, err
		}
		res.SourcePages = 0
		for _, m := range parts {
			rs, err := m.ExistingRanges()
			if err != nil {
				return wo, nil, fmt.Errorf("trim: %w", err)
			}
			exists = append(exists, rs...)
			res.SourcePages += m.DumpedPages()
		}
		src = nil
	}
	switch m := src.(type) {
	case nil:
	case *diskdump.File:
		if err := fromDiskdump(&wo, res, m); err != nil {
			return wo, nil, err
		}
		var err error
		if exists, err = m.ExistingRanges(); err != nil {
			return wo, nil, fmt.Errorf("trim: %w", err)
		}
		res.SourcePages = m.DumpedPages() * uint64(m.BlockSize()/phys.PageSize)
	case *elfcore.File:
		for _, s := range m.Segments() {
			if s.MemSize == 0 {
				continue
			}
			exists = append(exists, phys.Range{Start: s.PAddr, End: s.PAddr + s.MemSize})
			wo.MaxMapnr = max(wo.MaxMapnr, (s.PAddr+s.MemSize+phys.PageSize-1)/phys.PageSize)
		}
		for _, r := range m.Ranges() {
			res.SourcePages += (r.End - r.Start) / phys.PageSize
		}
		wo.Notes = encodeNotes(m.Notes())
		wo.NrCPUs = int32(len(d.CPUs))
		if tr := d.Translator(); tr != nil {
			wo.PhysBase = tr.Layout().PhysBase
		}
		if uts, err := d.UTSName(); err == nil {
			// makedumpfile fills the header's utsname from the kernel's.
			wo.UTSName = diskdump.UTSName(uts)
		}
		if info := notes.FindVMCOREINFO(m.Notes()); info != nil {
			// As makedumpfile -E to kdump-compressed: the sub header
			// points at the VMCOREINFO note.
			wo.VMCOREINFO = info
			res.VMCOREINFOFrom = "the source's VMCOREINFO ELF note"
		}
	default:
		return wo, nil, fmt.Errorf("trim: %s dumps cannot be trimmed", d.Format)
	}
	if d.InfoSource == vmcore.InfoFromMemoryScan && d.VMCOREINFO() != nil {
		wo.VMCOREINFO = []byte(d.VMCOREINFO().Raw())
		res.VMCOREINFOFrom = fmt.Sprintf("the kernel's copy found by the memory scan at physical %#x", d.InfoAddr)
	}
	if wo.MaxMapnr == 0 {
		return wo, nil, errors.New("trim: the source holds no memory")
	}
	return wo, exists, nil
}

// fromDiskdump takes the header facts, notes and VMCOREINFO of a
// kdump-compressed source.
func fromDiskdump(wo *diskdump.WriteOptions, res *Result, m *diskdump.File) error {
	h := m.Header()
	// QEMU's aarch64 kdump files use 64 KiB blocks whatever the guest's
	// page size: the copy is written in 4 KiB pages.
	bs := m.BlockSize()
	if bs < phys.PageSize || bs%phys.PageSize != 0 {
		return fmt.Errorf("trim: block size %d (only multiples of %d-byte pages are supported)", bs, phys.PageSize)
	}
	wo.MaxMapnr = min(h.MaxMapnr, m.MaxPFN()) * uint64(bs/phys.PageSize)
	wo.UTSName = h.UTSName
	wo.Timestamp = h.Timestamp
	wo.NrCPUs = h.NrCPUs
	wo.CurrentCPU = h.CurrentCPU
	wo.PhysBase = h.Sub.PhysBase
	wo.Notes = m.Notes()
	wo.VMCOREINFO = m.VMCOREINFO()
	if len(wo.VMCOREINFO) > 0 {
		res.VMCOREINFOFrom = "the source's kdump header"
	}
	return nil
}

// encodeNotes writes ELF notes back to their raw form (Elf64_Nhdr, name
// and descriptor padded to 4 bytes).
func encodeNotes(list []notes.Note) []byte {
	var b bytes.Buffer
	for _, n := range list {
		var h [12]byte
		binary.LittleEndian.PutUint32(h[0:], uint32(len(n.Name)+1))
		binary.LittleEndian.PutUint32(h[4:], uint32(len(n.Desc)))
		binary.LittleEndian.PutUint32(h[8:], n.Type)
		b.Write(h[:])
		b.WriteString(n.Name)
		b.WriteByte(0)
		for b.Len()%4 != 0 {
			b.WriteByte(0)
		}
		b.Write(n.Desc)
		for b.Len()%4 != 0 {
			b.WriteByte(0)
		}
	}
	return b.Bytes()
}
