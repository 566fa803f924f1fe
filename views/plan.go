package views

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/panicscope/panicscope/vmcore/analysis"
)

// PlanText renders the panic plan as a table: each step of panic() with
// what it would do (and, for a dump, what the timeline says it did), the
// warnings, and for a live system how memory compares with /proc and /sys.
func PlanText(r *analysis.Report) string {
	var b strings.Builder
	w := &b
	p := r.Plan
	basis := "as configured in the dump; \"actual\" is what the timeline says ran"
	if p.Basis == analysis.PlanBasisLive {
		basis = "live: what panic() would do if this machine panicked now"
	}
	fmt.Fprintf(w, "panic plan for %s (panic() model %s)\n%s\n\n", orUnknown(r.Kernel.Release), p.Model, basis)
	pr := r.Parameters
	fmt.Fprintf(w, "crash_kexec_post_notifiers=%s  crash_kernel_loaded=%s  panic_timeout=%s  panic_print=%s\n\n",
		yn(pr.CrashKexecPostNotifiers), yn(pr.CrashKernelLoaded), intText(pr.PanicTimeout), uintHex(pr.PanicPrint))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	head := "#\tstep\taction\twhy"
	if p.Basis == analysis.PlanBasisConfigured {
		head = "#\tstep\taction\tactual\twhy"
	}
	fmt.Fprintln(tw, head)
	for _, s := range p.Steps {
		name := string(s.Step)
		if s.Slot != "" {
			name += " (" + s.Slot + ")"
		}
		if p.Basis == analysis.PlanBasisConfigured {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", s.Order, name, s.Action, dash(string(s.Actual)), s.Why)
		} else {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", s.Order, name, s.Action, s.Why)
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
				fmt.Fprintf(tw, "\t%s\t%s\t%s\t%s\n", label, m.Action, dash(string(m.Actual)), strings.Join(extra, "; "))
			} else {
				fmt.Fprintf(tw, "\t%s\t%s\t%s\n", label, m.Action, strings.Join(extra, "; "))
			}
		}
	}
	tw.Flush()
	fmt.Fprintln(w)
	if len(p.Warnings) == 0 {
		fmt.Fprintln(w, "warnings: none")
	} else {
		fmt.Fprintln(w, "warnings:")
		for _, wn := range p.Warnings {
			fmt.Fprintf(w, "  ! %s\n", wn.Text)
		}
	}
	if len(p.Checks) > 0 {
		fmt.Fprintln(w, "\nmemory vs /proc and /sys:")
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, c := range p.Checks {
			ok := "agree"
			if !c.Agree {
				ok = "DIFFER"
			}
			fmt.Fprintf(tw, "  %s\tmemory %s\t%s %s\t%s\n", c.Name, c.Memory, c.Path, c.System, ok)
		}
		tw.Flush()
	}
	fmt.Fprintf(w, "\n%s\n", p.Summary)
	return b.String()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
