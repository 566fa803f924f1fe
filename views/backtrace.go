package views

import (
	"fmt"
	"strings"

	"github.com/panicscope/panicscope/vmcore/analysis"
	"github.com/panicscope/panicscope/vmcore/finding"

	"github.com/panicscope/panicscope/internal/termsafe"
)

// CPUBlocks is the CPUs page split per CPU: block i is Report.CPUs[i] as
// CPUsLines draws it at width w. It is nil when there is no CPU state to
// show; CPUsLines then says why.
func CPUBlocks(d Data, w int, st Styles) [][]string {
	if d.Report == nil {
		return nil
	}
	var out [][]string
	for _, c := range d.Report.CPUs {
		p := &pageDoc{st: st, w: w}
		cpuLines(p, d.Report, c)
		out = append(out, p.lines)
	}
	return out
}

// PanickingCPU is the index in Report.CPUs of the CPU that ran panic(), -1
// when the analysis has not arrived or did not find it.
func PanickingCPU(d Data) int {
	if d.Report == nil {
		return -1
	}
	for i, c := range d.Report.CPUs {
		if c.Role == analysis.RolePanicking {
			return i
		}
	}
	return -1
}

// Backtrace is the full stack of Report.CPUs[i], innermost frame first, as
// the unwinder read it ("? " marks a frame found by scanning the stack, not
// by unwinding): its first line is the CPU's heading from the CPUs page.
func Backtrace(d Data, i, w int, st Styles) []string {
	blocks := CPUBlocks(d, w, st)
	if i < 0 || i >= len(blocks) {
		return []string{st.Dim.Render(st.truncate(d.missing("CPU states", d.ReportErr), w))}
	}
	p := &pageDoc{st: st, w: w}
	for _, l := range blocks[i] {
		if l != "" {
			p.add(l) // the heading: CPU, role, task
			break
		}
	}
	c := d.Report.CPUs[i]
	if len(c.Stack) == 0 {
		why := "no problem recorded names this CPU"
		if p, ok := problemFor(d.Report, finding.About(finding.AreaCPU, fmt.Sprint(c.CPU))); ok {
			why = p.Message()
		}
		p.para(2, "no stack frames were read for this CPU: "+why, st.Dim.Render)
		return p.lines
	}
	p.add(st.Dim.Render(st.truncate(fmt.Sprintf("  %d frames, innermost first; ? = found by scanning the stack", len(c.Stack)), w)))
	numW := len(fmt.Sprint(len(c.Stack) - 1))
	for n, f := range c.Stack {
		label := fmt.Sprintf(" #%-*d ", numW, n)
		for j, l := range wrapCells(Printable(f), max(w-len(label), 10)) {
			if j == 0 {
				p.add(st.Dim.Render(label) + l)
			} else {
				p.add(strings.Repeat(" ", len(label)) + l)
			}
		}
	}
	return p.lines
}

// Printable shows what a terminal would act on — control characters,
// escape sequences, invalid UTF-8, bidi controls — escaped, for text read
// from the dump's memory: termsafe.String, the one place that decides.
func Printable(s string) string { return termsafe.String(s) }
