package analysis

import (
	"strings"

	"github.com/panicscope/panicscope/vmcore/analysis/timeline"
	"github.com/panicscope/panicscope/vmcore/finding"
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
		Problems:      finding.List{},
	}
	r.Identity = Identify(t.Dump)
	t.Load()
	r.Problems = append(r.Problems, t.Problems()...)
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
		for _, area := range []string{finding.AreaParams, finding.AreaChain, finding.AreaDumpers, finding.AreaPstore, finding.AreaConsoles} {
			r.problemf(finding.NoSource, finding.About(area), "no symbols or no types: not read")
		}
	}
	readCPUs(t, r)
	r.Identity.PanicMessage = r.Panic.Message
	r.Timeline = buildTimeline(t, r, log)
	r.Panic.Trigger = classifyTrigger(r)
	buildPlan(t, r)
	return r
}

func captureKind(t *target.Target) (kind timeline.Capture, why string) {
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
		if c.HasQEMU && isArm64(t) {
			return CaptureHypervisor, "QEMU's per-vCPU NT_PRFPREG notes beside NT_PRSTATUS (the kernel's crash_save_cpu() writes NT_PRSTATUS only): written by QEMU dump-guest-memory from outside the guest"
		}
		if c.HasQEMU {
			return CaptureHypervisor, "QEMU CPU-state notes: written by QEMU dump-guest-memory from outside the guest"
		}
	}
	return CaptureUnknown, "neither CRASHTIME in VMCOREINFO nor hypervisor notes"
}

func readLog(t *target.Target, r *Report) *printk.Log {
	log, err := t.Log()
	if err != nil {
		r.fail(finding.About(finding.AreaLog), err)
		return nil
	}
	panicFromLog(r, log)
	return log
}

// panicFromLog fills the log statistics and the panic message, seq and
// first report from log. The message is printk's (Log.Panic), the one
// every page shows.
func panicFromLog(r *Report, log *printk.Log) {
	r.Log = &LogStats{Source: log.Source, Records: len(log.Records), FirstSeq: log.FirstSeq, NextSeq: log.NextSeq,
		Dropped: log.Dropped, Gaps: len(log.Gaps), Size: log.Size}
	if len(log.Gaps) > 0 {
		g := log.Gaps[0]
		r.problemf(finding.Unreadable, finding.About(finding.AreaLog), "%d runs of records unreadable (first: seq %d-%d, %s)", len(log.Gaps), g.FirstSeq, g.LastSeq, g.Reason)
	}
	p, ok := log.Panic()
	if !ok {
		// No panic() message: the report that started the crash, if any
		// (an oops that called crash_kexec() itself).
		r.Panic.FirstReport = firstReport(log, log.NextSeq)
		if r.Kernel.Capture != CaptureLive {
			r.problemf(finding.NoSource, finding.About(finding.AreaPanic), "no \"Kernel panic - not syncing\" message in the kernel log")
		}
		return
	}
	r.Panic.Message = &p.Message
	r.Panic.MessageFrom = FromMessageLine
	if p.From == printk.PanicEndLine {
		r.Panic.MessageFrom = FromEndLine
		r.problemf(finding.Unreadable, finding.About(finding.AreaPanic), "the \"Kernel panic - not syncing\" line is not in the log: the message is read from panic()'s closing line (seq %d)", p.Seq)
	}
	r.Panic.Seq, r.Panic.TimestampNS = ptr(p.Seq), ptr(p.TimestampNS)
	r.Panic.FirstReport = firstReport(log, p.Seq)
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
		Release:      str(r.Kernel.Release),
		Arch:         archName(t),
		Capture:      r.Kernel.Capture,
		PanicMessage: str(r.Panic.Message),
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
	in.PanicSeq, in.Log = panicWindow(log, r.Panic)
	if r.Panic.Seq == nil && log != nil {
		in.Oops, in.LogWhole = oopsWithoutPanic(log)
	}
	if c := findChain(r, "panic_notifier_list"); c != nil {
		in.Notifiers = []timeline.Member{}
		for _, e := range c.Entries {
			in.Notifiers = append(in.Notifiers, timeline.Member{Name: e.Callback, Module: e.Module, Priority: e.Priority})
		}
		in.NotifiersPartial = !c.Complete
	}
	in.Dumpers = r.dumperMembers()
	in.DumpersPartial = in.Dumpers != nil && !r.DumpersComplete
	for _, c := range r.CPUs {
		// The innermost frame is the IP's unless an exception handler that
		// saved the registers was rebuilt above them (kdump's crash NMI).
		ip := funcName(str(c.IPSymbol))
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

// panicWindow is the part of the log the timeline reads: the records from
// the panic message on, with its seq as the floor. When only panic()'s
// closing line survived, the lines panic() printed before it are still
// evidence (notifiers, kmsg dumpers): the window is then the readable run
// that ends at that line, and there is no floor.
func panicWindow(log *printk.Log, p PanicInfo) (*uint64, []timeline.LogLine) {
	if log == nil || p.Seq == nil {
		return p.Seq, nil
	}
	from, floor := *p.Seq, p.Seq
	if p.MessageFrom == FromEndLine {
		from, floor = log.FirstSeq, nil
		for _, g := range log.Gaps {
			if g.LastSeq < *p.Seq {
				from = max(from, g.LastSeq+1)
			}
		}
	}
	var lines []timeline.LogLine
	for _, rec := range log.Records {
		if rec.Seq >= from {
			lines = append(lines, timeline.LogLine{Seq: rec.Seq, TimestampNS: rec.TimestampNS, Text: rec.Text})
		}
	}
	return floor, lines
}

// dumperMembers is dump_list for the timeline model: nil when it was not
// read, so that the model says so instead of "empty".
func (r *Report) dumperMembers() []timeline.Member {
	if len(r.Dumpers) == 0 && !r.DumpersComplete {
		return nil
	}
	out := []timeline.Member{}
	for _, d := range r.Dumpers {
		out = append(out, timeline.Member{Name: d.Callback, Module: d.Module, MaxReason: d.MaxReason})
	}
	return out
}

func findChain(r *Report, name string) *Chain {
	for i := range r.Chains {
		if r.Chains[i].Name == name {
			return &r.Chains[i]
		}
	}
	return nil
}

// archName is the dump's architecture as uname -m names it, "" when none.
func archName(t *target.Target) string {
	if a := t.Dump.Arch(); a != nil {
		return a.Name()
	}
	return ""
}

// oopsWithoutPanic is the last oops report (Oops:/BUG:/kernel BUG at/general
// protection fault) of a log with no panic message, and whether every record
// from it to the end of the ring was read: then a line panic() printed
// after it would be there.
func oopsWithoutPanic(log *printk.Log) (*timeline.LogLine, bool) {
	prefixes := []string{"Oops: ", "BUG: ", "kernel BUG at ", "general protection fault"}
	var oops *timeline.LogLine
	for _, rec := range log.Records {
		for _, p := range prefixes {
			if strings.HasPrefix(rec.Text, p) {
				oops = &timeline.LogLine{Seq: rec.Seq, TimestampNS: rec.TimestampNS, Text: firstLine(rec.Text)}
			}
		}
	}
	if oops == nil || len(log.Records) == 0 {
		return oops, false
	}
	whole := log.Records[len(log.Records)-1].Seq+1 == log.NextSeq
	for _, g := range log.Gaps {
		if g.LastSeq >= oops.Seq {
			whole = false
		}
	}
	return oops, whole
}
