package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/panicscope/panicscope/vmcore/analysis"
)

// planJSON is what `plan --json` prints.
type planJSON struct {
	Release    string               `json:"release"`
	Capture    string               `json:"capture"`
	Parameters analysis.Parameters  `json:"parameters"`
	Plan       *analysis.PlanResult `json:"plan"`
	Problems   []string             `json:"problems"`
}

func runPlan(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("plan", stderr)
	var tf targetFlags
	tf.register(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	dump, _, err := tf.parse(fs, args, 0, 0, "usage: panicscope plan DUMP|--live [--json]")
	if err != nil {
		return err
	}
	t, err := tf.open(dump, stderr)
	if err != nil {
		return err
	}
	defer t.Close()
	r := analysis.Build(t)
	if r.Plan == nil {
		p := analysis.Plan(r)
		r.Plan = &p
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(planJSON{Release: r.Kernel.Release, Capture: r.Kernel.Capture, Parameters: r.Parameters, Plan: r.Plan, Problems: r.Problems})
	}
	return printPlan(stdout, r)
}

func printPlan(w io.Writer, r *analysis.Report) error {
	p := r.Plan
	basis := "as configured in the dump; \"actual\" is what the timeline says ran"
	if p.Basis == analysis.PlanBasisLive {
		basis = "live: what panic() would do if this machine panicked now"
	}
	fmt.Fprintf(w, "panic plan for %s (panic() model %s)\n%s\n\n", r.Kernel.Release, p.Model, basis)
	pr := r.Parameters
	fmt.Fprintf(w, "crash_kexec_post_notifiers=%s  crash kernel loaded=%s  panic_timeout=%s  panic_print=%s\n\n",
		yesNo(pr.CrashKexecPostNotifiers, "Y", "N"), yesNo(pr.CrashKernelLoaded, "yes", "no"), intOr(pr.PanicTimeout), hexOr(pr.PanicPrint))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	head := "#\tstep\taction\twhy"
	if p.Basis == analysis.PlanBasisConfigured {
		head = "#\tstep\taction\tactual\twhy"
	}
	fmt.Fprintln(tw, head)
	for _, s := range p.Steps {
		name := s.Step
		if s.Slot != "" {
			name += " (" + s.Slot + ")"
		}
		if p.Basis == analysis.PlanBasisConfigured {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", s.Order, name, s.Action, dash(s.Actual), s.Why)
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
				fmt.Fprintf(tw, "\t%s\t%s\t%s\t%s\n", label, m.Action, dash(m.Actual), strings.Join(extra, "; "))
			} else {
				fmt.Fprintf(tw, "\t%s\t%s\t%s\n", label, m.Action, strings.Join(extra, "; "))
			}
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
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
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "\n%s\n", p.Summary)
	return nil
}

func yesNo(b *bool, y, n string) string {
	switch {
	case b == nil:
		return analysis.Unknown
	case *b:
		return y
	}
	return n
}

func intOr(v *int64) string {
	if v == nil {
		return analysis.Unknown
	}
	return fmt.Sprint(*v)
}

func hexOr(v *uint64) string {
	if v == nil {
		return analysis.Unknown
	}
	return fmt.Sprintf("%#x", *v)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
