// Package vmcore opens a crash dump read-only and exposes its physical and
// kernel virtual memory, its VMCOREINFO and its per-CPU saved registers. It
// knows nothing of symbols, types or UI.
package vmcore

import (
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/panicscope/panicscope/vmcore/arch"
	"github.com/panicscope/panicscope/vmcore/arm64"
	"github.com/panicscope/panicscope/vmcore/internal/diskdump"
	"github.com/panicscope/panicscope/vmcore/internal/elfcore"
	"github.com/panicscope/panicscope/vmcore/notes"
	"github.com/panicscope/panicscope/vmcore/phys"
	"github.com/panicscope/panicscope/vmcore/vmcoreinfo"
	"github.com/panicscope/panicscope/vmcore/vmem"
	"github.com/panicscope/panicscope/vmcore/x86"
)

// Supported lists the architectures panicscope reads.
var Supported = []arch.Arch{x86.Arch, arm64.Arch}

// Format names the container a dump came in.
type Format string

const (
	FormatKdumpCompressed Format = "kdump-compressed"
	FormatFlattened       Format = "kdump-compressed (makedumpfile flattened)"
	FormatELFKdump        Format = "elf (kdump /proc/vmcore style)"
	FormatELFQEMU         Format = "elf (qemu dump-guest-memory)"
	FormatELF             Format = "elf"
)

// ErrUnknownFormat is returned when no reader recognises the file's magic.
var ErrUnknownFormat = errors.New("not a recognised crash dump (kdump-compressed, flattened or ELF core)")

// VMCOREINFO sources.
const (
	InfoFromELFNote    = "ELF note"
	InfoFromHeader     = "kdump header"
	InfoFromMemoryScan = "memory scan"
)

// CPU is one CPU's state as saved in the dump notes.
type CPU struct {
	Index int
	// PID of the task the CPU ran, from NT_PRSTATUS (0 for the idle task).
	PID int
	// Regs are the registers NT_PRSTATUS saved, followed by the control
	// registers of a hypervisor's CPU-state note when there is one.
	Regs arch.Regs
	// HasQEMU: a note only QEMU writes was found for this CPU (x86_64:
	// its CPU-state note; aarch64: NT_PRFPREG beside NT_PRSTATUS).
	HasQEMU   bool
	HasStatus bool
}

// Dump is an open crash dump. Methods are safe for concurrent use.
type Dump struct {
	Path        string
	Format      Format
	Compression string      // "zlib", "lzo", "snappy", "zstd", "none"
	DumpLevel   int         // makedumpfile -d level; -1 when unknown
	Filtered    bool        // pages were left out on purpose (dump level > 1, or ELF tails)
	Incomplete  bool        // the writer flagged the dump as cut short
	Truncation  *Truncation // the file is shorter than its headers say; nil when whole
	Split       *Split      // the parts of a makedumpfile --split set; nil when not split
	Header      *diskdump.Header

	InfoSource string // where VMCOREINFO came from
	InfoAddr   uint64 // physical address of the scanned copy (memory scan only)

	CPUs     []CPU
	Warnings []string

	file  *os.File
	parts []io.Closer // the other files of a split set (split.go)
	mem   phys.Memory
	info  *vmcoreinfo.Info
	arch  arch.Arch
	trans arch.Translator // nil when translation is unavailable
	virt  vmem.Reader     // live (OpenLive): reads virtual addresses directly, no page-table walk
}

// Open opens path read-only and identifies it by its magic bytes.
func Open(path string) (*Dump, error) { return OpenParts(path, nil) }

// OpenParts opens path like Open; when it is a part of a makedumpfile
// --split set, parts names the other parts (in any order), besides those
// found beside it by name.
func OpenParts(path string, parts []string) (*Dump, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open dump: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open dump: %w", err)
	}
	d, err := openReader(f, st.Size())
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	d.Path = path
	d.file = f
	d.joinSplitParts(path, parts)
	return d, nil
}

// Close releases the file (and the other parts of a split set).
func (d *Dump) Close() error {
	for _, c := range d.parts {
		c.Close()
	}
	if d.file == nil {
		return nil
	}
	return d.file.Close()
}

func openReader(r io.ReaderAt, size int64) (*Dump, error) {
	var magic [20]byte
	if _, err := r.ReadAt(magic[:], 0); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("reading magic: %w", err)
	}
	d := &Dump{DumpLevel: -1}
	var hints arch.Hints
	var rawNotes []byte
	var noteList []notes.Note
	switch {
	case string(magic[:12]) == "makedumpfile":
		return openFlattened(r, size)
	case string(magic[:8]) == "KDUMP   " || string(magic[:8]) == "DISKDUMP":
		dd, err := diskdump.Open(r, size)
		if err != nil {
			return nil, err
		}
		d.Format = FormatKdumpCompressed
		rawNotes = d.fromDiskdump(dd)
	case string(magic[:4]) == "\x7fELF":
		// e_machine decides the architecture before the core is read: a
		// core of another machine is unsupported, not misread.
		if magic[5] == byte(elf.ELFDATA2LSB) {
			hints.ELFMachine = elf.Machine(binary.LittleEndian.Uint16(magic[18:]))
			if _, err := arch.Detect(Supported, hints); err != nil {
				return nil, err
			}
		}
		ef, err := elfcore.Open(r, size)
		if err != nil {
			return nil, err
		}
		d.mem = ef
		d.Compression = "none"
		d.Truncation = elfTruncation(ef)
		switch ef.Style() {
		case elfcore.StyleKdump:
			d.Format = FormatELFKdump
		case elfcore.StyleQEMU:
			d.Format = FormatELFQEMU
		default:
			d.Format = FormatELF
		}
		for _, s := range ef.Segments() {
			if s.FileSize < s.MemSize {
				d.Filtered = true
			}
		}
		noteList = ef.Notes()
		if data := notes.FindVMCOREINFO(noteList); data != nil {
			if err := d.setInfo(data, InfoFromELFNote); err != nil {
				d.warn("VMCOREINFO note unreadable: %v", err)
			}
		}
	default:
		return nil, ErrUnknownFormat
	}
	if rawNotes != nil {
		nl, err := notes.Parse(rawNotes)
		if err != nil {
			d.warn("ELF notes in the dump header unreadable: %v", err)
		}
		noteList = nl
		if d.info == nil {
			if data := notes.FindVMCOREINFO(noteList); data != nil {
				if err := d.setInfo(data, InfoFromELFNote); err != nil {
					d.warn("VMCOREINFO note unreadable: %v", err)
				}
			}
		}
	}
	if d.info == nil {
		d.scanForVMCOREINFO()
	}
	if d.Header != nil {
		hints.HeaderMachine = d.Header.UTSName.Machine
	}
	hints.Info = d.info
	for _, n := range noteList {
		if n.Name == notes.NameCore && n.Type == notes.NT_PRSTATUS {
			hints.PRStatusSizes = append(hints.PRStatusSizes, len(n.Desc))
		}
	}
	a, err := arch.Detect(Supported, hints)
	if err != nil {
		return nil, err
	}
	d.arch = a
	d.CPUs = d.cpusFromNotes(noteList)
	if d.info != nil {
		if err := d.setupTranslation(); err != nil {
			d.warn("address translation: %v", err)
		}
	}
	return d, nil
}

// fromDiskdump fills d from a kdump-compressed file and returns its raw notes.
func (d *Dump) fromDiskdump(dd *diskdump.File) []byte {
	d.mem = dd
	h := dd.Header()
	d.Header = &h
	// makedumpfile and QEMU store a page raw when compressing it does not
	// pay; "zlib+none" is a zlib dump.
	d.Compression = strings.TrimSuffix(dd.Compression(), "+none")
	d.DumpLevel = dd.DumpLevel()
	// QEMU writes dump level 1 (zero pages only); anything more filters data.
	d.Filtered = d.DumpLevel > 1
	d.Incomplete = dd.Incomplete()
	d.Truncation = diskdumpTruncation(dd)
	d.Warnings = append(d.Warnings, dd.Warnings()...)
	if data := dd.VMCOREINFO(); len(data) > 0 {
		if err := d.setInfo(data, InfoFromHeader); err != nil {
			d.warn("VMCOREINFO in the kdump header unreadable: %v", err)
		}
	}
	return dd.Notes()
}

func (d *Dump) setInfo(data []byte, source string) error {
	info, err := vmcoreinfo.Parse(data)
	if err != nil {
		return err
	}
	d.info, d.InfoSource = info, source
	return nil
}

func (d *Dump) warn(format string, args ...any) {
	d.Warnings = append(d.Warnings, fmt.Sprintf(format, args...))
}

// cpusFromNotes decodes the CPUs' register notes in the dump's
// architecture.
func (d *Dump) cpusFromNotes(list []notes.Note) []CPU {
	var cpus []CPU
	var hv []arch.HypervisorCPU
	for _, n := range list {
		if n.Name == notes.NameCore && n.Type == notes.NT_PRSTATUS {
			st, err := d.arch.PRStatus(n.Desc)
			if err != nil {
				continue
			}
			cpus = append(cpus, CPU{Index: len(cpus), PID: st.PID, Regs: st.Regs, HasStatus: true})
			continue
		}
		if h, ok, err := d.arch.HypervisorNote(n.Name, n.Type, n.Desc); ok && err == nil {
			hv = append(hv, h)
		}
	}
	// QEMU writes one PRSTATUS and one QEMU note per vCPU, in CPU order.
	for i, h := range hv {
		if i >= len(cpus) {
			cpus = append(cpus, CPU{Index: i})
		}
		c := &cpus[i]
		c.Regs.List = append(c.Regs.List[:len(c.Regs.List):len(c.Regs.List)], h.Control...)
		c.HasQEMU = true
	}
	return cpus
}

// VMCOREINFO returns the parsed VMCOREINFO, or nil when none was found.
func (d *Dump) VMCOREINFO() *vmcoreinfo.Info { return d.info }

// ReadPhys reads physical memory.
func (d *Dump) ReadPhys(buf []byte, paddr uint64) error { return d.mem.ReadPhys(buf, paddr) }

// PhysRanges lists the physical ranges the dump may hold.
func (d *Dump) PhysRanges() []phys.Range {
	if r, ok := d.mem.(phys.Ranger); ok {
		return r.Ranges()
	}
	return nil
}

// ErrNoTranslation is returned by ReadVirt when the dump gave no way to
// translate kernel addresses (no VMCOREINFO and no page-table root).
var ErrNoTranslation = errors.New("kernel virtual addresses cannot be translated: no VMCOREINFO or page-table root in this dump")

// ReadVirt reads kernel virtual memory.
func (d *Dump) ReadVirt(buf []byte, vaddr uint64) error {
	if d.virt != nil {
		return d.virt.ReadVirt(buf, vaddr)
	}
	if d.trans == nil {
		return &vmem.FaultError{VAddr: vaddr, Err: ErrNoTranslation}
	}
	return d.trans.ReadVirt(buf, vaddr)
}

// Arch is the dump's architecture.
func (d *Dump) Arch() arch.Arch { return d.arch }

// Translator is the address translator, nil when the dump gave no way to
// translate (no VMCOREINFO, or its translation keys unusable).
func (d *Dump) Translator() arch.Translator { return d.trans }

// CrashTime is CRASHTIME from VMCOREINFO (set by crash_save_vmcoreinfo() in
// __crash_kexec), else the kdump header's timestamp.
func (d *Dump) CrashTime() (time.Time, string) {
	if d.info != nil {
		if t, ok := d.info.CrashTime(); ok {
			return time.Unix(t, 0).UTC(), "VMCOREINFO CRASHTIME"
		}
	}
	if d.Header != nil && d.Header.Timestamp.Sec > 0 {
		return time.Unix(d.Header.Timestamp.Sec, d.Header.Timestamp.Usec*1000).UTC(), "dump header"
	}
	return time.Time{}, ""
}
