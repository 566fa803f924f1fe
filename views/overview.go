package views

import (
	"fmt"
	"strings"

	"github.com/panicscope/panicscope/vmcore/analysis"
	"github.com/panicscope/panicscope/vmcore/finding"
	"github.com/panicscope/panicscope/vmcore/printk"
)

const overviewLabelW = 10

// Overview is the first page: which kernel, what crashed, how the dump was
// taken, and the verdict of the timeline.
func Overview(d Data, w, h, offset int, st Styles) string {
	return Window(st, OverviewLines(d, w, st), offset, w, h)
}

// OverviewLines is the whole Overview page, before scrolling.
func OverviewLines(d Data, w int, st Styles) []string {
	p := &pageDoc{st: st, w: w}
	id, r := d.Identity, d.Report
	if r != nil {
		id = &r.Identity // the analysis adds the panic message
	}
	verdict := d.missing("verdict", d.ReportErr)
	if r != nil {
		verdict = Verdict(r.Timeline)
		p.kv("Verdict", overviewLabelW, verdict, st.Verdict.Render)
	} else {
		p.kv("Verdict", overviewLabelW, verdict, st.Dim.Render)
	}
	p.blank()
	if id == nil {
		p.kv("Dump", overviewLabelW, d.Path, nil)
		p.kv("Kernel", overviewLabelW, d.missing("identity"), st.Dim.Render)
		return p.lines
	}
	kernel := orUnknown(id.Release)
	if id.Version != nil {
		kernel += " " + *id.Version
	}
	p.kv("Kernel", overviewLabelW, kernel, nil)
	machine := fmt.Sprintf("%s, %d CPUs", id.Arch, id.CPUs)
	if id.Hostname != "" && id.Hostname != "(none)" {
		machine += ", host " + id.Hostname
	}
	p.kv("Machine", overviewLabelW, machine, nil)
	p.kv("Crashed", overviewLabelW, crashTime(id, r), nil)
	overviewPanic(p, d, r)
	overviewCapture(p, d, id, r)
	overviewProblems(p, d, id, r)
	return p.lines
}

func crashTime(id *analysis.Identity, r *analysis.Report) string {
	s := unknown
	if id.CrashTime != nil {
		s = id.CrashTime.UTC().Format("2006-01-02 15:04:05 UTC")
		if id.CrashTimeSource != "" {
			s += " (" + id.CrashTimeSource + ")"
		}
	}
	if r != nil && r.Panic.TimestampNS != nil {
		s += fmt.Sprintf(", %s s after boot", strings.TrimSpace(strings.Trim(printk.FormatTimestamp(*r.Panic.TimestampNS), "[]")))
	}
	return s
}

func overviewPanic(p *pageDoc, d Data, r *analysis.Report) {
	st := p.st
	if r == nil {
		msg, ok := panicFromLog(d.Log)
		if !ok {
			msg = d.missing("panic message", d.LogErr)
			p.kv("Panic", overviewLabelW, msg, st.Dim.Render)
		} else {
			p.kv("Panic", overviewLabelW, msg, st.Error.Render)
		}
		p.kv("CPU", overviewLabelW, d.missing("panicking CPU", d.ReportErr), st.Dim.Render)
		return
	}
	if r.Panic.Message != nil {
		p.kv("Panic", overviewLabelW, *r.Panic.Message, st.Error.Render)
	} else {
		p.kv("Panic", overviewLabelW, panicMessageUnknown(r), st.Dim.Render)
	}
	if r.Panic.FirstReport != "" {
		p.kv("Cause", overviewLabelW, r.Panic.FirstReport, nil)
	}
	if tr := r.Panic.Trigger; tr.Kind != "" {
		p.kv("Trigger", overviewLabelW, string(tr.Kind), nil)
	}
	if r.Panic.CPU != nil {
		cpu := fmt.Sprintf("%d", *r.Panic.CPU)
		if r.Panic.TaskComm != nil || r.Panic.TaskPID != nil {
			cpu += fmt.Sprintf(", task %s (pid %s)", orQuestion(r.Panic.TaskComm), intPtrText(r.Panic.TaskPID))
		}
		if r.Panic.CPUSource != "" {
			cpu += " — " + r.Panic.CPUSource
		}
		p.kv("CPU", overviewLabelW, cpu, nil)
	} else {
		p.kv("CPU", overviewLabelW, joinNonEmpty(": ", unknown, r.Panic.CPUSource), st.Dim.Render)
	}
	p.kv("Taint", overviewLabelW, taintText(r), nil)
	p.kv("Params", overviewLabelW, paramsText(r.Parameters), nil)
}

// panicFromLog finds the panic message in the log lines, for the first
// screen before the analysis arrives: printk's, as the analysis finds it.
func panicFromLog(lines []printk.Line) (string, bool) {
	_, p, ok := printk.PanicInLines(lines)
	return p.Message, ok
}

// panicMessageUnknown says why there is no panic message.
func panicMessageUnknown(r *analysis.Report) string {
	return unknownBecause(r, finding.About(finding.AreaPanic), finding.About(finding.AreaLog))
}

// taintText is tainted_mask as letters and raw, or unknown with the reason.
func taintText(r *analysis.Report) string {
	if r.Panic.Taint == nil || r.Panic.TaintMask == nil {
		return unknownBecause(r, finding.About(finding.AreaParams, "tainted_mask"), finding.About(finding.AreaParams))
	}
	return fmt.Sprintf("%s (%#x)", *r.Panic.Taint, *r.Panic.TaintMask)
}

func paramsText(p analysis.Parameters) string {
	var parts []string
	b := func(name string, v *bool) {
		s := "?"
		if v != nil {
			s = map[bool]string{true: "Y", false: "N"}[*v]
		}
		parts = append(parts, name+"="+s)
	}
	i := func(name string, v *int64) {
		s := "?"
		if v != nil {
			s = fmt.Sprint(*v)
		}
		parts = append(parts, name+"="+s)
	}
	b("crash_kexec_post_notifiers", p.CrashKexecPostNotifiers)
	i("panic", p.PanicTimeout)
	pp := "?"
	if p.PanicPrint != nil {
		pp = fmt.Sprintf("%#x", *p.PanicPrint)
	}
	parts = append(parts, "panic_print="+pp)
	i("panic_on_oops", p.PanicOnOops)
	i("panic_on_warn", p.PanicOnWarn)
	switch {
	case p.CrashKernelLoaded == nil:
		parts = append(parts, "crash kernel ?")
	case *p.CrashKernelLoaded:
		parts = append(parts, "crash kernel loaded")
	default:
		parts = append(parts, "no crash kernel")
	}
	return strings.Join(parts, " ")
}

func overviewCapture(p *pageDoc, d Data, id *analysis.Identity, r *analysis.Report) {
	st := p.st
	if r != nil {
		capture := string(r.Kernel.Capture)
		if r.Kernel.CaptureWhy != "" {
			capture += ": " + r.Kernel.CaptureWhy
		}
		p.kv("Captured", overviewLabelW, capture, nil)
		p.kv("Symbols", overviewLabelW, r.Kernel.SymbolSource, nil)
		p.kv("Types", overviewLabelW, r.Kernel.TypeSource, nil)
		if r.Line != "" {
			p.kv("Model", overviewLabelW, joinNonEmpty(": ", r.Line, r.LineWhy), nil)
		}
	} else {
		p.kv("Captured", overviewLabelW, d.missing("capture kind", d.ReportErr), st.Dim.Render)
	}
	dump := id.Format
	if id.Compression != "" {
		dump += ", " + id.Compression
	}
	if id.Filtered {
		dump += fmt.Sprintf(", filtered (dump level %d)", id.DumpLevel)
	}
	if id.Incomplete {
		dump += ", INCOMPLETE"
	}
	p.kv("Dump", overviewLabelW, dump, nil)
	if d.Path != "" {
		p.kv("File", overviewLabelW, d.Path, nil)
	}
	p.kv("VMCOREINFO", overviewLabelW, id.VMCOREINFOSource, nil)
}

func overviewProblems(p *pageDoc, d Data, id *analysis.Identity, r *analysis.Report) {
	var problems []string
	for _, pr := range allProblems(id, r) {
		problems = append(problems, pr.Message())
	}
	for _, e := range []string{d.LogErr, d.ReportErr} {
		if e != "" {
			problems = append(problems, e)
		}
	}
	if len(problems) == 0 {
		p.kv("Problems", overviewLabelW, "none", nil)
		return
	}
	for i, pr := range problems {
		label := ""
		if i == 0 {
			label = "Problems"
		}
		p.kv(label, overviewLabelW, pr, p.st.Warning.Render)
	}
}
