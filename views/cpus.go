package views

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/panicscope/panicscope/vmcore/analysis"
	"github.com/panicscope/panicscope/vmcore/finding"

	"github.com/panicscope/panicscope/internal/termsafe"
)

// CPUs is the CPUs page: each CPU's role in the panic, where it was, its
// task and its registers.
func CPUs(d Data, w, h, offset int, st Styles) string {
	return Window(st, CPUsLines(d, w, st), offset, w, h)
}

// CPUsLines is the whole CPUs page, before scrolling.
func CPUsLines(d Data, w int, st Styles) []string {
	p := &pageDoc{st: st, w: w}
	r := d.Report
	if r == nil {
		p.add(st.Dim.Render(d.missing("CPU states", d.ReportErr)))
		return p.lines
	}
	if len(r.CPUs) == 0 {
		p.add(st.Dim.Render("no CPU states: " + problemAbout(r, finding.AreaCPU, "the dump has no CPU notes")))
		return p.lines
	}
	for _, c := range r.CPUs {
		cpuLines(p, r, c)
	}
	return p.lines
}

func cpuLines(p *pageDoc, r *analysis.Report, c analysis.CPUState) {
	st := p.st
	p.blank()
	role := st.Value
	if c.Role == analysis.RolePanicking {
		role = st.Running
	}
	p.add(st.truncate(st.Heading.Render(fmt.Sprintf("CPU %d", c.CPU))+"  "+role.Render(string(c.Role))+"  "+termsafe.String(taskText(c)), p.w))
	const lw = 6
	switch {
	case c.IP == nil:
		p.kv("  ip", lw, "not saved", st.Dim.Render)
	case c.IPSymbol == nil || *c.IPSymbol == "":
		p.kv("  ip", lw, "no symbol  "+*c.IP, nil)
	default:
		p.kv("  ip", lw, *c.IPSymbol+"  "+*c.IP, nil)
	}
	if c.RoleWhy != "" {
		p.kv("  why", lw, c.RoleWhy, st.Dim.Render)
	}
	if c.Task != nil {
		p.kv("  task", lw, *c.Task, st.Dim.Render)
	}
	for _, pr := range r.Problems {
		if pr.Subject == finding.About(finding.AreaCPU, strconv.Itoa(c.CPU)) {
			p.kv("  note", lw, pr.Err.Error(), st.Warning.Render)
		}
	}
	if len(c.Regs) == 0 {
		p.para(2, "no registers saved for this CPU", st.Dim.Render)
		return
	}
	p.add(regGrid(st, c.Regs, p.w)...)
}

// regGrid lays the registers out row by row, in the architecture's order,
// in as many columns as fit, each column as wide as its longest register
// name.
func regGrid(st Styles, regs analysis.Registers, w int) []string {
	valW := 0
	for _, r := range regs {
		valW = max(valW, cellWidth(r.Value))
	}
	const indent, gap = 2, 2
	for cols := min(len(regs), 8); cols >= 1; cols-- {
		labelW := make([]int, cols)
		for i, r := range regs {
			labelW[i%cols] = max(labelW[i%cols], len(r.Name))
		}
		total := indent + gap*(cols-1)
		for _, lw := range labelW {
			total += lw + 1 + valW
		}
		if total > w && cols > 1 {
			continue
		}
		var out []string
		for i := 0; i < len(regs); i += cols {
			var b strings.Builder
			b.WriteString(strings.Repeat(" ", indent))
			for j := 0; j < cols && i+j < len(regs); j++ {
				if j > 0 {
					b.WriteString(strings.Repeat(" ", gap))
				}
				r := regs[i+j]
				b.WriteString(st.Dim.Render(fmt.Sprintf("%*s", labelW[j], r.Name)) + " " + st.pad(r.Value, valW))
			}
			out = append(out, strings.TrimRight(b.String(), " "))
		}
		return out
	}
	return nil
}

// taskText is "task sh (pid 121)", with "?" for what could not be read, or
// "task unknown".
func taskText(c analysis.CPUState) string {
	if c.TaskComm == nil && c.TaskPID == nil {
		return "task " + unknown
	}
	return fmt.Sprintf("task %s (pid %s)", orQuestion(c.TaskComm), intPtrText(c.TaskPID))
}

func orQuestion(s *string) string {
	if s == nil {
		return "?"
	}
	return *s
}

func intPtrText(v *int) string {
	if v == nil {
		return "?"
	}
	return strconv.Itoa(*v)
}
