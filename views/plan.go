package views

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/panicscope/panicscope/vmcore/analysis"
)

// PlanText renders the panic plan as a table: each step of panic() with
// what it would do (and, for a dump, what the timeline says it did), the
// warnings, and for a live system how memory compares with /proc and /sys.
// Text wraps at width columns: the last column ("why") and the warnings
// wrap with a hanging indent, so a plan fits an 80-column console.
func PlanText(r *analysis.Report, width int) string {
	width = max(width, 40)
	var b strings.Builder
	w := &b
	p := r.Plan
	basis := "as configured in the dump; \"actual\" is what the timeline says ran"
	if p.Basis == analysis.PlanBasisLive {
		basis = "live: what panic() would do if this machine panicked now"
	}
	for _, l := range wrapPlain(fmt.Sprintf("panic plan for %s (panic() model %s)\n%s", Printable(orUnknown(r.Kernel.Release)), p.Model, basis), width) {
		fmt.Fprintln(w, l)
	}
	fmt.Fprintln(w)
	pr := r.Parameters
	params := fmt.Sprintf("crash_kexec_post_notifiers=%s  crash_kernel_loaded=%s  panic_timeout=%s  panic_print=%s",
		yn(pr.CrashKexecPostNotifiers), yn(pr.CrashKernelLoaded), intText(pr.PanicTimeout), uintHex(pr.PanicPrint))
	for _, l := range wrapPlain(params, width) {
		fmt.Fprintln(w, l)
	}
	fmt.Fprintln(w)
	tw := &wrapTable{}
	head := "#\tstep\taction\twhy"
	if p.Basis == analysis.PlanBasisConfigured {
		head = "#\tstep\taction\tactual\twhy"
	}
	fmt.Fprintln(tw, head)
	for _, s := range p.Steps {
		name := string(s.Step)
		if s.Slot != "" {
			name += " (" + words(s.Slot) + ")"
		}
		if p.Basis == analysis.PlanBasisConfigured {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", s.Order, name, words(string(s.Action)), dash(words(string(s.Actual))), s.Why)
		} else {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", s.Order, name, words(string(s.Action)), s.Why)
		}
		for _, m := range s.Members {
			label := "  " + m.Name
			if m.Module != "" {
				label += " [" + m.Module + "]"
			}
			var extra []string
			if m.Priority != nil {
				extra = append(extra, fmt.Sprintf("priority %d", *m.Priority))
			}
			if m.ModuleTaint != "" {
				extra = append(extra, "taint "+m.ModuleTaint)
			}
			if m.BeforeKdump {
				extra = append(extra, "before kdump")
			}
			if m.Why != "" {
				extra = append(extra, m.Why)
			}
			if p.Basis == analysis.PlanBasisConfigured {
				fmt.Fprintf(tw, "\t%s\t%s\t%s\t%s\n", label, words(string(m.Action)), dash(words(string(m.Actual))), strings.Join(extra, "; "))
			} else {
				fmt.Fprintf(tw, "\t%s\t%s\t%s\n", label, words(string(m.Action)), strings.Join(extra, "; "))
			}
		}
	}
	tw.write(w, width)
	fmt.Fprintln(w)
	if len(p.Warnings) == 0 {
		fmt.Fprintln(w, "warnings: none")
	} else {
		fmt.Fprintln(w, "warnings:")
		for _, wn := range p.Warnings {
			for i, l := range wrapPlain(Printable(wn.Text), width-4) {
				lead := "    "
				if i == 0 {
					lead = "  ! "
				}
				fmt.Fprintln(w, lead+l)
			}
		}
	}
	if len(p.Checks) > 0 {
		fmt.Fprintln(w, "\nmemory vs /proc and /sys:")
		cw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, c := range p.Checks {
			ok := "agree"
			if !c.Agree {
				ok = "DIFFER"
			}
			fmt.Fprintf(cw, "  %s\tmemory %s\t%s %s\t%s\n", c.Name, c.Memory, c.Path, c.System, ok)
		}
		cw.Flush()
	}
	fmt.Fprintln(w)
	for _, l := range wrapPlain(p.Summary, width) {
		fmt.Fprintln(w, l)
	}
	return b.String()
}

// wrapTable is a tab-separated table whose last column wraps to the width
// left by the others (at least a third of the width), continuation lines
// indented under it.
type wrapTable struct{ rows [][]string }

// Write takes tab-separated rows, one per line, as tabwriter does.
func (t *wrapTable) Write(b []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		t.rows = append(t.rows, strings.Split(line, "\t"))
	}
	return len(b), nil
}

func (t *wrapTable) write(w io.Writer, width int) {
	const gap = 2
	var widths []int
	for _, r := range t.rows {
		for i, c := range r[:len(r)-1] {
			if i >= len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], len([]rune(c)))
		}
	}
	lead := 0
	for _, cw := range widths {
		lead += cw + gap
	}
	// Too little room beside the other columns: the last column goes
	// under its row instead, indented.
	const under = 6
	if lead-gap > width && len(t.rows) > 0 {
		// Not even the short columns fit: each row is its first two cells,
		// the rest "header: value" underneath.
		head := t.rows[0]
		for _, r := range t.rows[1:] {
			fmt.Fprintln(w, strings.TrimRight(strings.Join(r[:min(2, len(r))], "  "), " "))
			var rest []string
			for i := 2; i < len(r); i++ {
				if r[i] != "" && i < len(head) {
					rest = append(rest, head[i]+": "+r[i])
				}
			}
			for _, l := range wrapPlain(strings.Join(rest, "; "), width-under) {
				fmt.Fprintln(w, strings.Repeat(" ", under)+l)
			}
		}
		return
	}
	if width-lead < 30 {
		for _, r := range t.rows {
			var b strings.Builder
			for i, c := range r[:len(r)-1] {
				b.WriteString(c + strings.Repeat(" ", widths[i]-len([]rune(c))+gap))
			}
			fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
			if last := r[len(r)-1]; last != "" {
				for _, l := range wrapPlain(last, width-under) {
					fmt.Fprintln(w, strings.Repeat(" ", under)+l)
				}
			}
		}
		return
	}
	lastW := width - lead
	for _, r := range t.rows {
		var b strings.Builder
		for i, c := range r[:len(r)-1] {
			b.WriteString(c + strings.Repeat(" ", widths[i]-len([]rune(c))+gap))
		}
		prefix := b.String()
		lines := wrapPlain(r[len(r)-1], lastW)
		for i, l := range lines {
			if i == 0 {
				fmt.Fprintln(w, strings.TrimRight(prefix+l, " "))
			} else {
				fmt.Fprintln(w, strings.Repeat(" ", len([]rune(prefix)))+l)
			}
		}
	}
}

// words is an enum value as text: "not_reached" reads "not reached".
func words(s string) string { return strings.ReplaceAll(s, "_", " ") }

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
