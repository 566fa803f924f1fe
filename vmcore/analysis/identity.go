// Package analysis turns a dump's kernel objects into findings: identity,
// chains, dump buffers, parameters, CPUs and the panic timeline. Results are
// plain structs; partial results carry their problems instead of aborting.
package analysis

import (
	"errors"
	"fmt"
	"time"

	"github.com/panicscope/panicscope/vmcore"
	"github.com/panicscope/panicscope/vmcore/finding"
	"github.com/panicscope/panicscope/vmcore/printk"
)

// Identity is what `panicscope info` shows. Nil fields could not be read
// (no VMCOREINFO, an unreadable utsname); Problems says why.
type Identity struct {
	Release      *string `json:"release"`
	Version      *string `json:"version"`
	BuildID      *string `json:"build_id"`
	Arch         string  `json:"arch"`
	Hostname     string  `json:"hostname,omitempty"`
	PageSize     *uint64 `json:"page_size"`
	PagingLevels *int    `json:"paging_levels"`
	VABits       *int    `json:"va_bits,omitempty"`        // kernel VA bits in use
	ConfigVABits *int    `json:"config_va_bits,omitempty"` // configured, when it differs (arm64 VA_BITS 52 on a 48-bit CPU)
	KASLROffset  *string `json:"kaslr_offset"`
	PhysBase     *string `json:"phys_base"`
	// NoPhysBase: the architecture has no phys_base (arm64), so PhysBase
	// stays nil without being unknown.
	NoPhysBase  bool   `json:"-"`
	CPUs        int    `json:"cpus"`
	Format      string `json:"format"`
	Compression string `json:"compression"`
	Filtered    bool   `json:"filtered"`
	DumpLevel   int    `json:"dump_level"`
	Incomplete  bool   `json:"incomplete"`
	// Truncation says how the file is cut short (how much, from where);
	// nil when the file holds what its headers say.
	Truncation       *vmcore.Truncation `json:"truncation,omitempty"`
	CrashTime        *time.Time         `json:"crash_time"`
	CrashTimeSource  string             `json:"crash_time_source,omitempty"`
	VMCOREINFOSource string             `json:"vmcoreinfo_source"`
	PanicMessage     *string            `json:"panic_message"` // nil until AddLog found it
	Problems         finding.List       `json:"problems"`
}

// Identify reads the identity facts from VMCOREINFO and kernel memory. The
// dump headers' utsname and current-CPU fields are not trusted: QEMU leaves
// them empty or zero.
func Identify(d *vmcore.Dump) Identity {
	id := Identity{
		Format:      string(d.Format),
		Compression: d.Compression,
		Filtered:    d.Filtered,
		DumpLevel:   d.DumpLevel,
		Incomplete:  d.Incomplete || d.Truncation != nil,
		Truncation:  d.Truncation,
		CPUs:        len(d.CPUs),
		Problems:    finding.List{},
	}
	// vmcore reports its warnings as text (a VMCOREINFO or translation it
	// could not take from the file): each is a source the dump lacks.
	for _, w := range d.Warnings {
		id.Problems.Add(finding.New(finding.NoSource, finding.About(finding.AreaDump), errors.New(w)))
	}
	if a := d.Arch(); a != nil {
		id.Arch = a.Name()
	}
	if d.Header != nil && int(d.Header.NrCPUs) > id.CPUs {
		id.CPUs = int(d.Header.NrCPUs)
	}
	if t, src := d.CrashTime(); !t.IsZero() {
		id.CrashTime, id.CrashTimeSource = &t, src
	}
	info := d.VMCOREINFO()
	if info == nil {
		id.VMCOREINFOSource = "none"
		id.Problems.Addf(finding.NoSource, finding.About(finding.AreaDump), "no VMCOREINFO: release, build ID, page size and KASLR offset are unknown")
		return id
	}
	id.VMCOREINFOSource = d.InfoSource
	if d.InfoSource == vmcore.InfoFromMemoryScan {
		id.VMCOREINFOSource = fmt.Sprintf("%s (physical %#x)", d.InfoSource, d.InfoAddr)
	}
	if rel := info.OSRelease(); rel != "" {
		id.Release = &rel
	}
	if b := info.BuildID(); b != "" {
		id.BuildID = &b
	}
	if ps := info.PageSize(); ps != 0 {
		id.PageSize = &ps
	}
	if off, ok := info.KernelOffset(); ok {
		id.KASLROffset = ptr(fmt.Sprintf("%#x", off))
	}
	if tr := d.Translator(); tr != nil {
		l := tr.Layout()
		id.PagingLevels = ptr(l.Levels)
		if l.VABits != 0 {
			id.VABits = ptr(l.VABits)
		}
		if l.ConfigVABits != 0 {
			id.ConfigVABits = ptr(l.ConfigVABits)
		}
		id.NoPhysBase = !l.HasPhysBase
		if l.HasPhysBase {
			id.PhysBase = ptr(signedHex(l.PhysBase))
		}
	}
	if uts, err := d.UTSName(); err != nil {
		id.Problems.Add(finding.New(kindOf(err), finding.About(finding.AreaDump, "utsname"), fmt.Errorf("init_uts_ns unreadable: %w", err)))
		// makedumpfile copies the kernel's utsname into the kdump header
		// (write_kdump_header); QEMU leaves it empty. Used when memory
		// cannot say and it names VMCOREINFO's release.
		if h := d.Header; h != nil && id.Release != nil && h.UTSName.Release == *id.Release && h.UTSName.Version != "" {
			id.Version, id.Hostname = &h.UTSName.Version, h.UTSName.Nodename
			id.Problems.Addf(finding.NoSource, finding.About(finding.AreaDump, "utsname"), "version and hostname taken from the kdump header's copy of utsname")
		}
	} else {
		id.Version = &uts.Version
		id.Hostname = uts.Nodename
		if uts.Machine != "" {
			id.Arch = uts.Machine
		}
		switch {
		case id.Release == nil && uts.Release != "":
			id.Release = &uts.Release
		case id.Release != nil && uts.Release != *id.Release:
			id.Problems.Addf(finding.Damaged, finding.About(finding.AreaDump, "utsname"), "utsname release %q differs from VMCOREINFO %q", uts.Release, *id.Release)
		}
	}
	return id
}

// signedHex prints phys_base as the kernel does in VMCOREINFO: it is signed,
// and negative when the kernel runs below its link address.
func signedHex(v uint64) string {
	if int64(v) < 0 {
		return fmt.Sprintf("-%#x", -int64(v))
	}
	return fmt.Sprintf("%#x", v)
}

// AddLog fills the panic message from the kernel log (printk's Panic),
// which Identify leaves nil so that it stays fast enough for a first screen.
func (id *Identity) AddLog(log *printk.Log, err error) {
	if err != nil {
		id.Problems.Add(finding.New(kindOf(err), finding.About(finding.AreaLog), fmt.Errorf("kernel log unreadable: %w", err)))
		return
	}
	if p, ok := log.Panic(); ok {
		id.PanicMessage = &p.Message
	}
}

// str is *p, or "" for nil: for text that names a value either way.
func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
