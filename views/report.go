// Package views renders analysis results as text: pure functions from data,
// a width and styles to a string. Nothing here reads a dump or a terminal.
package views

import (
	"fmt"
	"strings"

	"github.com/panicscope/panicscope/vmcore/analysis"
	"github.com/panicscope/panicscope/vmcore/analysis/timeline"
	"github.com/panicscope/panicscope/vmcore/finding"
	"github.com/panicscope/panicscope/vmcore/printk"

	"github.com/panicscope/panicscope/internal/termsafe"
)

// StepTitle names a step with its slot when the step appears twice.
func StepTitle(s timeline.Step) string {
	if s.Slot == "" {
		return string(s.Step)
	}
	return string(s.Step) + " (" + strings.ReplaceAll(s.Slot, "_", " ") + ")"
}

// ReportText is the plain-text report, readable in a ticket: ASCII only,
// wrapped at width columns (at least 60).
func ReportText(r *analysis.Report, width int) string {
	width = max(width, 60)
	var b strings.Builder
	kv := func(k, v string) { writeWrapped(&b, fmt.Sprintf("%-12s", k+":"), termsafe.String(v), width) }
	safe := termsafe.String

	fmt.Fprintf(&b, "panicscope report: %s\n\n", orUnknown(r.Kernel.Release))
	if r.Kernel.Capture == analysis.CaptureLive {
		kv("Panic", "none: this is the running system (see the configured plan below)")
	} else {
		kv("Panic", panicMessage(r))
		kv("Where", panicWhere(r))
	}
	if r.Panic.FirstReport != "" {
		kv("Cause", r.Panic.FirstReport)
	}
	if tr := r.Panic.Trigger; tr.Kind != "" {
		kv("Trigger", string(tr.Kind)+": "+tr.Why)
	}
	kv("Taint", taintLetters(r))
	kv("Kernel", kernelText(r.Kernel))
	kv("Captured", string(r.Kernel.Capture)+": "+r.Kernel.CaptureWhy)
	kv("Dump", fmt.Sprintf("%s, %s, %s", r.Identity.Format, r.Identity.Compression, filteredText(r.Identity)))
	if s, ok := incompleteText(r.Identity); ok {
		kv("Incomplete", s)
	}
	if r.Identity.CrashTime != nil {
		kv("Crash time", r.Identity.CrashTime.Format("2006-01-02 15:04:05 UTC"))
	}
	kv("Symbols", r.Kernel.SymbolSource)
	kv("Types", r.Kernel.TypeSource)
	kv("Model", "panic() of "+r.Line+": "+r.LineWhy)

	section(&b, "Timeline: the order panic() ran")
	for i, s := range r.Timeline {
		head := fmt.Sprintf("%2d. %-32s %-11s ", i+1, StepTitle(s), StatusWord(s.Status))
		writeWrapped(&b, head, s.Reason, width)
		ind := strings.Repeat(" ", 8)
		for _, e := range s.Evidence {
			writeWrapped(&b, ind+"evidence: ", evidenceText(e), width)
		}
		for _, m := range s.Members {
			writeWrapped(&b, ind+fmt.Sprintf("- %-11s ", StatusWord(m.Status)), memberText(m, s.Reason), width)
			for _, e := range m.Evidence {
				writeWrapped(&b, ind+strings.Repeat(" ", 14)+"evidence: ", evidenceText(e), width)
			}
		}
	}

	if r.Plan != nil {
		section(&b, "Configured plan: what panic() would do with these settings")
		writeWrapped(&b, "  ", r.Plan.Summary, width)
		for _, w := range r.Plan.Warnings {
			writeWrapped(&b, "  ! ", w.Text, width)
		}
	}

	section(&b, "Parameters")
	p := r.Parameters
	kv2 := func(k, v string) { fmt.Fprintf(&b, "  %-28s %s\n", k, v) }
	kv2("crash_kexec_post_notifiers", yn(p.CrashKexecPostNotifiers))
	kv2("crash kernel loaded", yn(p.CrashKernelLoaded))
	kv2("panic_timeout", intText(p.PanicTimeout))
	kv2("panic_print", uintHex(p.PanicPrint))
	kv2("panic_on_oops", intText(p.PanicOnOops))
	kv2("panic_on_warn", intText(p.PanicOnWarn))

	section(&b, "Notifier chains (call order)")
	for _, c := range r.Chains {
		fmt.Fprintf(&b, "  %s (%d%s)\n", c.Name, len(c.Entries), incomplete(c.Complete))
		for i, e := range c.Entries {
			fmt.Fprintf(&b, "    %2d. %11s  %s%s\n", i+1, intPtrText(e.Priority), safe(e.Callback), safe(moduleSuffix(e.Module)))
		}
		if c.Broken != "" {
			writeWrapped(&b, "    walk stopped: ", c.Broken, width)
		}
	}

	section(&b, "Kmsg dumpers (dump_list order)")
	switch {
	case len(r.Dumpers) == 0 && r.DumpersComplete:
		b.WriteString("  none registered\n")
	case !r.DumpersComplete:
		writeWrapped(&b, "  ", dumpersIncomplete(r), width)
	}
	for i, d := range r.Dumpers {
		writeWrapped(&b, fmt.Sprintf("  %2d. ", i+1), safe(fmt.Sprintf("%s%s  max_reason=%s", d.Callback, moduleSuffix(d.Module), reasonText(d))), width)
	}
	if r.Pstore != nil {
		fmt.Fprintf(&b, "  pstore backend: %s (buffer %s bytes)\n", safe(orUnknown(r.Pstore.Backend)), uintText(r.Pstore.BufSize))
		for _, rec := range r.Pstore.Records {
			fmt.Fprintf(&b, "    zone %2d %-7s %s  %s\n", rec.Zone, rec.Kind, safe(rec.Title), safe(rec.Header))
		}
	}

	section(&b, "CPUs")
	for _, c := range r.CPUs {
		writeWrapped(&b, fmt.Sprintf("  cpu %d  %-22s ", c.CPU, c.Role), safe(fmt.Sprintf("%s  %s  ip %s", orUnknown(c.IPSymbol), taskText(c), orUnknown(c.IP))), width)
	}

	section(&b, "Kernel log")
	if l := r.Log; l != nil {
		seqs := "no records"
		if l.NextSeq > l.FirstSeq {
			seqs = fmt.Sprintf("seq %d-%d", l.FirstSeq, l.NextSeq-1) // NextSeq is the next to be written
		}
		writeWrapped(&b, "  ", fmt.Sprintf("%s: %s, %s, %d overwritten, %s",
			l.Source, plural(l.Records, "record"), seqs, l.Dropped, plural(l.Gaps, "unreadable run")), width)
	} else {
		writeWrapped(&b, "  ", "not read: "+problemAbout(r, finding.AreaLog, unknown), width)
	}
	if len(r.Consoles) > 0 {
		var names []string
		for _, c := range r.Consoles {
			names = append(names, safe(consoleName(c)))
		}
		fmt.Fprintf(&b, "  consoles: %s\n", strings.Join(names, ", "))
	}

	if problems := allProblems(nil, r); len(problems) > 0 {
		section(&b, "What could not be read")
		for _, p := range problems {
			writeWrapped(&b, "  - ", p.Message(), width)
		}
	}
	// Tickets and serial consoles get plain ASCII, same layout; nothing
	// from the dump can drive the terminal.
	return ToASCII(safeLines(b.String()))
}

// ReportMarkdown is the report as Markdown, for tickets that render it.
func ReportMarkdown(r *analysis.Report) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## Kernel panic: %s\n\n", mdEscape(panicMessage(r)))
	row := func(k, v string) { fmt.Fprintf(&b, "| %s | %s |\n", k, mdEscape(v)) }
	b.WriteString("| | |\n|---|---|\n")
	row("Where", panicWhere(r))
	if r.Panic.FirstReport != "" {
		row("Cause", r.Panic.FirstReport)
	}
	if tr := r.Panic.Trigger; tr.Kind != "" {
		row("Trigger", string(tr.Kind)+": "+tr.Why)
	}
	row("Taint", taintLetters(r))
	row("Kernel", kernelText(r.Kernel))
	row("Captured", string(r.Kernel.Capture)+": "+r.Kernel.CaptureWhy)
	row("Dump", fmt.Sprintf("%s, %s, %s", r.Identity.Format, r.Identity.Compression, filteredText(r.Identity)))
	if s, ok := incompleteText(r.Identity); ok {
		row("Incomplete", s)
	}
	row("Model", "panic() of "+r.Line)

	b.WriteString("\n### Timeline\n\n| # | step | status | reason / evidence |\n|---|---|---|---|\n")
	for i, s := range r.Timeline {
		var parts []string
		if s.Reason != "" {
			parts = append(parts, mdEscape(s.Reason))
		}
		for _, e := range s.Evidence {
			parts = append(parts, "`"+mdCode(evidenceText(e))+"`")
		}
		for _, m := range s.Members {
			parts = append(parts, mdEscape(StatusWord(m.Status)+": "+memberText(m, s.Reason)))
		}
		fmt.Fprintf(&b, "| %d | %s | **%s** | %s |\n", i+1, StepTitle(s), StatusWord(s.Status), strings.Join(parts, "<br>"))
	}

	if r.Plan != nil {
		fmt.Fprintf(&b, "\n### Configured plan\n\n%s\n", mdEscape(r.Plan.Summary))
		for _, w := range r.Plan.Warnings {
			fmt.Fprintf(&b, "\n- **warning:** %s", mdEscape(w.Text))
		}
		b.WriteString("\n")
	}

	b.WriteString("\n### Parameters\n\n| parameter | value |\n|---|---|\n")
	p := r.Parameters
	row("crash_kexec_post_notifiers", yn(p.CrashKexecPostNotifiers))
	row("crash kernel loaded", yn(p.CrashKernelLoaded))
	row("panic_timeout", intText(p.PanicTimeout))
	row("panic_print", uintHex(p.PanicPrint))
	row("panic_on_oops", intText(p.PanicOnOops))
	row("panic_on_warn", intText(p.PanicOnWarn))

	for _, c := range r.Chains {
		fmt.Fprintf(&b, "\n### %s\n\n", c.Name)
		if !c.Complete {
			fmt.Fprintf(&b, "**walk stopped early:** %s\n\n", mdEscape(c.Broken))
		}
		if len(c.Entries) == 0 {
			b.WriteString("(empty)\n")
			continue
		}
		b.WriteString("| # | priority | callback | module |\n|---|---|---|---|\n")
		for i, e := range c.Entries {
			fmt.Fprintf(&b, "| %d | %s | `%s` | %s |\n", i+1, intPtrText(e.Priority), mdCode(e.Callback), mdEscape(e.Module))
		}
	}
	b.WriteString("\n### Kmsg dumpers\n\n")
	if !r.DumpersComplete {
		fmt.Fprintf(&b, "**%s**\n\n", mdEscape(dumpersIncomplete(r)))
	}
	switch {
	case len(r.Dumpers) == 0 && r.DumpersComplete:
		b.WriteString("(none registered)\n")
	case len(r.Dumpers) > 0:
		b.WriteString("| # | callback | module | max_reason |\n|---|---|---|---|\n")
		for i, d := range r.Dumpers {
			fmt.Fprintf(&b, "| %d | `%s` | %s | %s |\n", i+1, mdCode(d.Callback), mdEscape(d.Module), reasonText(d))
		}
	}
	b.WriteString("\n### CPUs\n\n| cpu | role | instruction pointer | task |\n|---|---|---|---|\n")
	for _, c := range r.CPUs {
		fmt.Fprintf(&b, "| %d | %s | `%s` | %s |\n", c.CPU, c.Role, mdCode(orUnknown(c.IPSymbol)), mdEscape(strings.TrimPrefix(taskText(c), "task ")))
	}
	if problems := allProblems(nil, r); len(problems) > 0 {
		b.WriteString("\n### What could not be read\n\n")
		for _, p := range problems {
			fmt.Fprintf(&b, "- %s\n", mdEscape(p.Message()))
		}
	}
	return safeLines(b.String())
}

// panicMessage is printk's panic message, or unknown with the reason.
func panicMessage(r *analysis.Report) string {
	if r.Panic.Message == nil {
		return panicMessageUnknown(r)
	}
	return *r.Panic.Message
}

// taintLetters is tainted_mask as print_tainted() letters, or unknown with
// the reason.
func taintLetters(r *analysis.Report) string {
	if r.Panic.Taint == nil {
		return taintText(r)
	}
	return *r.Panic.Taint
}

func kernelText(k analysis.KernelInfo) string {
	s := orUnknown(k.Release)
	if k.Version != nil {
		s += " " + *k.Version
	}
	return s
}

func incomplete(complete bool) string {
	if complete {
		return ""
	}
	return ", walk stopped early"
}

// dumpersIncomplete says dump_list was not read, or not to its end, and why.
func dumpersIncomplete(r *analysis.Report) string {
	what := "dump_list not read"
	if len(r.Dumpers) > 0 {
		what = "dump_list walk stopped early"
	}
	return what + ": " + problemAbout(r, finding.AreaDumpers, unknown)
}

func reasonText(d analysis.Dumper) string {
	switch {
	case d.MaxReason == nil:
		return unknown
	case d.ReasonName != "":
		return d.ReasonName
	}
	return fmt.Sprint(*d.MaxReason)
}

func panicWhere(r *analysis.Report) string {
	if r.Panic.CPU == nil {
		return joinNonEmpty(": ", "panicking CPU unknown", r.Panic.CPUSource)
	}
	s := fmt.Sprintf("CPU %d, task %s (pid %s)", *r.Panic.CPU, orQuestion(r.Panic.TaskComm), intPtrText(r.Panic.TaskPID))
	if r.Panic.Seq != nil && r.Panic.TimestampNS != nil {
		s += fmt.Sprintf(", log seq %d at %s", *r.Panic.Seq, printk.FormatTimestamp(*r.Panic.TimestampNS))
	}
	return s
}

// incompleteText says how the dump is incomplete, if it is.
func incompleteText(id analysis.Identity) (string, bool) {
	switch {
	case id.Truncation != nil:
		return id.Truncation.String(), true
	case id.Incomplete:
		return "the writer flagged this dump as cut short (DUMP_DH_COMPRESSED_INCOMPLETE)", true
	}
	return "", false
}

func filteredText(id analysis.Identity) string {
	switch {
	case id.Filtered && id.DumpLevel >= 0:
		return fmt.Sprintf("filtered (dump level %d)", id.DumpLevel)
	case id.Filtered:
		return "filtered (segments hold fewer pages than memory)"
	}
	return "not filtered"
}

func evidenceText(e timeline.Evidence) string {
	s := e.Text
	if e.Kind == timeline.EvLog && e.TimestampNS != nil {
		s = printk.FormatTimestamp(*e.TimestampNS) + " " + s
		if e.Seq != nil {
			s += fmt.Sprintf("  (seq %d)", *e.Seq)
		}
	}
	return s
}

// memberText describes a notifier or dumper; its reason is left out when it
// only repeats the step's.
func memberText(m timeline.Member, stepReason string) string {
	s := m.Name + moduleSuffix(m.Module)
	if m.Priority != nil {
		s += fmt.Sprintf(" (priority %d)", *m.Priority)
	}
	if m.Reason != "" && m.Reason != stepReason {
		s += ": " + m.Reason
	}
	return s
}

func moduleSuffix(m string) string {
	if m == "" {
		return ""
	}
	return " [" + m + "]"
}

func yn(b *bool) string {
	switch {
	case b == nil:
		return unknown
	case *b:
		return "Y"
	}
	return "N"
}

func intText(v *int64) string {
	if v == nil {
		return unknown
	}
	return fmt.Sprint(*v)
}

func uintText(v *uint64) string {
	if v == nil {
		return unknown
	}
	return fmt.Sprint(*v)
}

func uintHex(v *uint64) string {
	if v == nil {
		return unknown
	}
	return fmt.Sprintf("%#x", *v)
}

func section(b *strings.Builder, title string) {
	fmt.Fprintf(b, "\n%s\n%s\n", title, strings.Repeat("-", len(title)))
}

// writeWrapped writes head then text, wrapping text at width with a hanging
// indent under the start of text.
//
// When the head leaves fewer than minText columns, the text goes under it,
// indented by underIndent, so narrow terminals still get whole lines.
func writeWrapped(b *strings.Builder, head, text string, width int) {
	const minText, underIndent = 24, 8
	if width-len(head) < minText && len(head) > underIndent {
		b.WriteString(strings.TrimRight(head, " "))
		b.WriteByte('\n')
		if text != "" {
			writeWrapped(b, strings.Repeat(" ", underIndent), text, width)
		}
		return
	}
	indent := strings.Repeat(" ", len(head))
	avail := max(width-len(head), 20)
	lines := wrapPlain(text, avail)
	if len(lines) == 0 {
		lines = []string{""}
	}
	for i, l := range lines {
		if i == 0 {
			b.WriteString(strings.TrimRight(head+l, " "))
		} else {
			b.WriteString(indent + l)
		}
		b.WriteByte('\n')
	}
}

// wrapPlain splits s into lines of at most n bytes, breaking at the last space
// that fits and keeping the text's own spacing; a word longer than n is cut.
func wrapPlain(s string, n int) []string {
	var out []string
	for _, para := range strings.Split(s, "\n") {
		para = strings.TrimRight(para, " ")
		for len(para) > n {
			cut := strings.LastIndexByte(para[:n+1], ' ')
			if cut <= 0 {
				cut = n
			}
			out = append(out, strings.TrimRight(para[:cut], " "))
			para = strings.TrimLeft(para[cut:], " ")
		}
		out = append(out, para)
	}
	return out
}

func mdEscape(s string) string {
	return termsafe.String(strings.NewReplacer("|", "\\|", "\n", "<br>", "<", "&lt;", ">", "&gt;").Replace(s))
}

func mdCode(s string) string { return termsafe.String(strings.ReplaceAll(s, "`", "'")) }

// plural is "1 record", "2 records".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// safeLines escapes, line by line, whatever in s could drive a terminal:
// the last guard of the plain-text outputs, whose fields are escaped where
// they are written.
func safeLines(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = termsafe.String(l)
	}
	return strings.Join(lines, "\n")
}
