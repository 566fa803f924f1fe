// Package analysis turns a dump's kernel objects into findings: identity,
// chains, dump buffers, parameters, CPUs and the panic timeline. Results are
// plain structs; partial results carry their problems instead of aborting.
package analysis

import (
	"fmt"
	"time"

	"github.com/panicscope/panicscope/vmcore"
	"github.com/panicscope/panicscope/vmcore/printk"
)

// Unknown marks a fact that could not be established.
const Unknown = "unknown"

// Identity is what `panicscope info` shows.
type Identity struct {
	Release          string    `json:"release"`
	Version          string    `json:"version"`
	BuildID          string    `json:"build_id"`
	Arch             string    `json:"arch"`
	Hostname         string    `json:"hostname,omitempty"`
	PageSize         uint64    `json:"page_size"`
	PagingLevels     int       `json:"paging_levels"`
	KASLROffset      string    `json:"kaslr_offset"`
	PhysBase         string    `json:"phys_base"`
	CPUs             int       `json:"cpus"`
	Format           string    `json:"format"`
	Compression      string    `json:"compression"`
	Filtered         bool      `json:"filtered"`
	DumpLevel        int       `json:"dump_level"`
	Incomplete       bool      `json:"incomplete"`
	CrashTime        time.Time `json:"crash_time,omitzero"`
	CrashTimeSource  string    `json:"crash_time_source,omitempty"`
	VMCOREINFOSource string    `json:"vmcoreinfo_source"`
	PanicMessage     string    `json:"panic_message"`
	Problems         []string  `json:"problems,omitempty"`
}

// Identify reads the identity facts from VMCOREINFO and kernel memory. The
// dump headers' utsname and current-CPU fields are not trusted: QEMU leaves
// them empty or zero.
func Identify(d *vmcore.Dump) Identity {
	id := Identity{
		Release:      Unknown,
		Version:      Unknown,
		BuildID:      Unknown,
		Arch:         "x86_64",
		KASLROffset:  Unknown,
		PhysBase:     Unknown,
		Format:       string(d.Format),
		Compression:  d.Compression,
		Filtered:     d.Filtered,
		DumpLevel:    d.DumpLevel,
		Incomplete:   d.Incomplete,
		CPUs:         len(d.CPUs),
		PanicMessage: Unknown,
		Problems:     append([]string(nil), d.Warnings...),
	}
	if d.Header != nil && int(d.Header.NrCPUs) > id.CPUs {
		id.CPUs = int(d.Header.NrCPUs)
	}
	id.CrashTime, id.CrashTimeSource = d.CrashTime()
	info := d.VMCOREINFO()
	if info == nil {
		id.VMCOREINFOSource = "none"
		return id
	}
	id.VMCOREINFOSource = d.InfoSource
	if d.InfoSource == vmcore.InfoFromMemoryScan {
		id.VMCOREINFOSource = fmt.Sprintf("%s (physical %#x)", d.InfoSource, d.InfoAddr)
	}
	id.Release = info.OSRelease()
	if b := info.BuildID(); b != "" {
		id.BuildID = b
	}
	id.PageSize = info.PageSize()
	if off, ok := info.KernelOffset(); ok {
		id.KASLROffset = fmt.Sprintf("%#x", off)
	}
	tc := d.Translation()
	if d.Translator() != nil {
		id.PagingLevels = tc.Levels
		id.PhysBase = signedHex(tc.PhysBase)
	}
	if uts, err := d.UTSName(); err != nil {
		id.Problems = append(id.Problems, fmt.Sprintf("kernel utsname unreadable: %v", err))
	} else {
		id.Version = uts.Version
		id.Hostname = uts.Nodename
		if uts.Machine != "" {
			id.Arch = uts.Machine
		}
		if uts.Release != id.Release {
			id.Problems = append(id.Problems, fmt.Sprintf("utsname release %q differs from VMCOREINFO %q", uts.Release, id.Release))
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

// AddLog fills the panic message from the kernel log, which Identify leaves
// "unknown" so that it stays fast enough for a first screen.
func (id *Identity) AddLog(log *printk.Log, err error) {
	if err != nil {
		id.Problems = append(id.Problems, fmt.Sprintf("kernel log unreadable: %v", err))
		return
	}
	if _, msg, ok := log.PanicMessage(); ok {
		id.PanicMessage = msg
	}
}
