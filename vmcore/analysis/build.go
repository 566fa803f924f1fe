package analysis

import (
	"strings"

	"github.com/panicscope/panicscope/vmcore/analysis/timeline"
	"github.com/panicscope/panicscope/vmcore/printk"
	"github.com/panicscope/panicscope/vmcore/target"
)

// Capture kinds (how the dump was taken).
const (
	CaptureKdump      = timeline.CaptureKdump
	CaptureHypervisor = timeline.CaptureHypervisor
	CaptureLive       = timeline.CaptureLive
	CaptureUnknown    = timeline.CaptureUnknown
)

// Build reads everything the report shows. It never fails: what could not
// be read is in Problems and the matching fields stay empty or nil.
func Build(t *target.Target) *Report {
	r := &Report{
		SchemaVersion: SchemaVersion,
		Chains:        []Chain{},
		Dumpers:       []Dumper{},
		Consoles:      []Console{},
		CPUs:          []CPUState{},
		Modules:       []Module{},
		Problems:      []string{},
	}
	r.Panic.Taint = Unknown // until tainted_mask is read
	r.Identity = Identify(t.Dump)
	t.Load()
	for _, p := range t.Problems() {
		r.Problems = append(r.Problems, p.Message())
	}
	r.Kernel = KernelInfo{
		Release:      r.Identity.Release,
		Version:      r.Identity.Version,
		SymbolSource: t.SymbolSource,
		TypeSource:   t.TypeSource,
	}
	r.Kernel.Capture, r.Kernel.CaptureWhy = captureKind(t)
	for _, m := range t.Modules {
		r.Modules = append(r.Modules, Module{Name: m.Name, Base: hex(m.Base), Size: m.Size, Symbols: m.Symbols})
	}
	log := readLog(t, r)
	if t.Syms != nil && t.Kernel.Types != nil {
		readParameters(t, r)
		readChains(t, r)
		readDumpers(t, r)
		readPstore(t, r)
		readConsoles(t, r)
	} else {
		r.problem("no symbols or no types: chains, dumpers, parameters and consoles cannot be read")
	}
	readCPUs(t, r)
	r.Identity.PanicMessage = r.Panic.Message
	r.Timeline = buildTimeline(t, r, log)
	buildPlan(t, r)
	return r
}

func captureKind(t *target.Target) (kind, why string) {
	d := t.Dump
	if d.Live() {
		return CaptureLive, "a running system read through " + d.Path
	}
	if info := d.VMCOREINFO(); info != nil && d.InfoSource != "memory scan" {
		if _, ok := info.CrashTime(); ok {
			return CaptureKdump, "VMCOREINFO has CRASHTIME, written by crash_save_vmcoreinfo() inside __crash_kexec()"
		}
	}
	for _, c := range d.CPUs {
		if c.HasQEMU {
			return CaptureHypervisor, "QEMU CPU-state notes: written by QEMU dump-guest-memory from outside the guest"
		}
	}
	return CaptureUnknown, "neither CRASHTIME in VMCOREINFO nor hypervisor notes"
}

func readLog(t *target.Target, r *Report) *printk.Log {
	log, err := t.Log()
	if err != nil {
		r.problem("kernel log: %v", err)
		r.Panic.Message = Unknown
		return nil
	}
	r.Log = LogStats{Source: log.Source, Records: len(log.Records), FirstSeq: log.FirstSeq, NextSeq: log.NextSeq,
		Dropped: log.Dropped, Gaps: len(log.Gaps), Size: log.Size}
	if len(log.Gaps) > 0 {
		r.problem("kernel log: %d runs of records unreadable (first: seq %d-%d, %s)", len(log.Gaps), log.Gaps[0].FirstSeq, log.Gaps[0].LastSeq, log.Gaps[0].Reason)
	}
	rec, msg, ok := log.PanicMessage()
	if !ok {
		r.Panic.Message = Unknown
		if r.Kernel.Capture != CaptureLive {
			r.problem("kernel log: no \"Kernel panic - not syncing\" message")
		}
		return log
	}
	r.Panic.Message = msg
	seq, ts := rec.Seq, rec.TimestampNS
	r.Panic.Seq, r.Panic.TimestampNS = &seq, &ts
	r.Panic.FirstReport = firstReport(log, rec.Seq)
	return log
}

// firstReport finds the report that led to the panic: the last BUG:, Oops,
// WARNING: or "sysrq: Trigger a crash" line before the panic message.
func firstReport(log *printk.Log, panicSeq uint64) string {
	prefixes := []string{"BUG: ", "Oops: ", "WARNING: ", "kernel BUG at ", "sysrq: Trigger a crash"}
	found := ""
	for _, rec := range log.Records {
		if rec.Seq >= panicSeq {
			break
		}
		for _, p := range prefixes {
			if strings.HasPrefix(rec.Text, p) {
				found = firstLine(rec.Text)
			}
		}
	}
	return found
}

func buildTimeline(t *target.Target, r *Report, log *printk.Log) []timeline.Step {
	in := timeline.Inputs{
		Release:      r.Kernel.Release,
		Capture:      r.Kernel.Capture,
		PanicMessage: r.Panic.Message,
		PanicSeq:     r.Panic.Seq,
	}
	if in.PanicMessage == Unknown {
		// The placeholder is not evidence that panic() printed anything
		// (a running system, or a log that could not be read).
		in.PanicMessage = ""
	}
	if t.Syms != nil {
		in.HasSymbol = func(name string) bool { _, ok := t.Syms.Lookup(name); return ok }
	}
	p := r.Parameters
	in.PostNotifiers = p.CrashKexecPostNotifiers
	in.CrashKernelLoaded = p.CrashKernelLoaded
	in.PanicPrint = p.PanicPrint
	if p.PanicTimeout != nil {
		v := int(*p.PanicTimeout)
		in.PanicTimeout = &v
	}
	if log != nil && r.Panic.Seq != nil {
		for _, rec := range log.Records {
			if rec.Seq >= *r.Panic.Seq {
				in.Log = append(in.Log, timeline.LogLine{Seq: rec.Seq, TimestampNS: rec.TimestampNS, Text: rec.Text})
			}
		}
	}
	if c := findChain(r, "panic_notifier_list"); c != nil {
		in.Notifiers = []timeline.Member{}
		for _, e := range c.Entries {
			prio := e.Priority
			in.Notifiers = append(in.Notifiers, timeline.Member{Name: e.Callback, Module: e.Module, Priority: &prio})
		}
	}
	if t.Syms != nil && t.Kernel.Types != nil {
		in.Dumpers = []timeline.Member{}
		for _, d := range r.Dumpers {
			in.Dumpers = append(in.Dumpers, timeline.Member{Name: d.Callback, Module: d.Module, MaxReason: d.MaxReason})
		}
	}
	for _, c := range r.CPUs {
		// The innermost frame is the IP's unless an exception handler that
		// saved the registers was rebuilt above them (kdump's crash NMI).
		ip := funcName(c.IPSymbol)
		if len(c.frames) > 0 {
			ip = funcName(c.frames[0])
		}
		in.CPUs = append(in.CPUs, timeline.CPUEvidence{CPU: c.CPU, Panicking: c.Role == RolePanicking, IPSymbol: ip, Frames: c.frames})
	}
	line, why := timeline.Line(in.Release, in.HasSymbol)
	r.Line, r.LineWhy = line, why
	_, steps := timeline.Build(in)
	return steps
}

func findChain(r *Report, name string) *Chain {
	for i := range r.Chains {
		if r.Chains[i].Name == name {
			return &r.Chains[i]
		}
	}
	return nil
}
