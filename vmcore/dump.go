// Package vmcore opens a crash dump read-only and exposes its physical and
// kernel virtual memory, its VMCOREINFO and its per-CPU saved registers. It
// knows nothing of symbols, types or UI.
package vmcore

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/panicscope/panicscope/vmcore/internal/diskdump"
	"github.com/panicscope/panicscope/vmcore/internal/elfcore"
	"github.com/panicscope/panicscope/vmcore/internal/flat"
	"github.com/panicscope/panicscope/vmcore/notes"
	"github.com/panicscope/panicscope/vmcore/phys"
	"github.com/panicscope/panicscope/vmcore/vmcoreinfo"
	"github.com/panicscope/panicscope/vmcore/vmem"
	"github.com/panicscope/panicscope/vmcore/x86"
)

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
	PID  int
	Regs notes.Regs
	// Control registers from QEMU's CPU-state note, when present.
	CR3, CR4  uint64
	HasQEMU   bool
	HasStatus bool
}

// Dump is an open crash dump. Methods are safe for concurrent use.
type Dump struct {
	Path        string
	Format      Format
	Compression string // "zlib", "lzo", "snappy", "zstd", "none"
	DumpLevel   int    // makedumpfile -d level; -1 when unknown
	Filtered    bool   // pages were left out on purpose (dump level > 1, or ELF tails)
	Incomplete  bool   // the writer flagged the dump as cut short
	Header      *diskdump.Header

	InfoSource string // where VMCOREINFO came from
	InfoAddr   uint64 // physical address of the scanned copy (memory scan only)

	CPUs     []CPU
	Warnings []string

	file  *os.File
	mem   phys.Memory
	info  *vmcoreinfo.Info
	trans *x86.Translator
	tcfg  x86.Config
	virt  vmem.Reader // live (OpenLive): reads virtual addresses directly, no page-table walk
}

// Open opens path read-only and identifies it by its magic bytes.
func Open(path string) (*Dump, error) {
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
	return d, nil
}

// Close releases the file.
func (d *Dump) Close() error {
	if d.file == nil {
		return nil
	}
	return d.file.Close()
}

func openReader(r io.ReaderAt, size int64) (*Dump, error) {
	var magic [16]byte
	if _, err := r.ReadAt(magic[:], 0); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("reading magic: %w", err)
	}
	d := &Dump{DumpLevel: -1}
	var rawNotes []byte
	var noteList []notes.Note
	switch {
	case string(magic[:12]) == "makedumpfile":
		fr, err := flat.Open(r, size)
		if err != nil {
			return nil, fmt.Errorf("flattened: %w", err)
		}
		dd, err := diskdump.Open(fr, fr.Size())
		if err != nil {
			return nil, fmt.Errorf("flattened stream content: %w", err)
		}
		d.Format = FormatFlattened
		rawNotes = d.fromDiskdump(dd)
	case string(magic[:8]) == "KDUMP   " || string(magic[:8]) == "DISKDUMP":
		dd, err := diskdump.Open(r, size)
		if err != nil {
			return nil, err
		}
		d.Format = FormatKdumpCompressed
		rawNotes = d.fromDiskdump(dd)
	case string(magic[:4]) == "\x7fELF":
		ef, err := elfcore.Open(r, size)
		if err != nil {
			return nil, err
		}
		d.mem = ef
		d.Compression = "none"
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
	d.CPUs = cpusFromNotes(noteList)
	if d.info == nil {
		d.scanForVMCOREINFO()
	}
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

func cpusFromNotes(list []notes.Note) []CPU {
	var cpus []CPU
	var qemu []notes.QEMUCPU
	for _, n := range list {
		switch {
		case n.Name == "CORE" && n.Type == notes.NT_PRSTATUS:
			st, err := notes.PRStatus(n.Desc)
			if err != nil {
				continue
			}
			cpus = append(cpus, CPU{Index: len(cpus), PID: int(st.Pid), Regs: st.Regs, HasStatus: true})
		case n.Name == "QEMU":
			if q, err := notes.QEMUCPUState(n.Desc); err == nil {
				qemu = append(qemu, *q)
			}
		}
	}
	// QEMU writes one PRSTATUS and one QEMU note per vCPU, in CPU order.
	for i, q := range qemu {
		if i >= len(cpus) {
			cpus = append(cpus, CPU{Index: i})
		}
		cpus[i].CR3, cpus[i].CR4, cpus[i].HasQEMU = q.CR3, q.CR4, true
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

// Translator exposes the address translator (nil when unavailable).
func (d *Dump) Translator() *x86.Translator { return d.trans }

// Translation returns the translation parameters in use.
func (d *Dump) Translation() x86.Config { return d.tcfg }

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
