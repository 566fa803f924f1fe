package views

import (
	"github.com/panicscope/panicscope/vmcore/analysis"
	"github.com/panicscope/panicscope/vmcore/analysis/timeline"
	"github.com/panicscope/panicscope/vmcore/printk"
)

// The data types a dump source hands to the TUI. They are aliases so the
// TUI, which draws only through this package, never imports the analysis
// or the log reader: views is its one window on the dump's data.
type (
	Identity = analysis.Identity // what `panicscope info` shows; the first stage
	Report   = analysis.Report   // the whole analysis; the last stage
	LogLine  = printk.Line       // one printed line of the kernel log
)

// RunningStep is the timeline step panic() was in when the dump was taken,
// -1 before the analysis or when no step is known to be running.
func RunningStep(d Data) int {
	for i, s := range d.steps() {
		if s.Status == timeline.Running {
			return i
		}
	}
	return -1
}

// StepCount is the number of timeline steps, 0 before the analysis.
func StepCount(d Data) int { return len(d.steps()) }

// ProblemLines is every problem the status line counts, as text: the
// analysis' (or, before it, the identity's) and why the log or the report
// is missing.
func ProblemLines(d Data) []string {
	var out []string
	for _, p := range Problems(d) {
		out = append(out, p.Message())
	}
	for _, e := range []string{d.LogErr, d.ReportErr} {
		if e != "" {
			out = append(out, e)
		}
	}
	return out
}
