package views

import (
	"github.com/panicscope/panicscope/vmcore/analysis"
	"github.com/panicscope/panicscope/vmcore/analysis/timeline"
	"github.com/panicscope/panicscope/vmcore/printk"
)

// Data is everything the pages show. The TUI fills it in stages while the
// dump loads: a nil or empty field has not arrived yet (Loading names the
// stage still running) or could not be read (the matching Err says why).
type Data struct {
	Path     string
	Identity *analysis.Identity
	Report   *analysis.Report
	Log      []printk.Line // printed lines, oldest first

	Loading   string // the load stage in progress; "" once loading ended
	OpenErr   string // the dump could not be opened or identified
	LogErr    string // why there is no kernel log
	ReportErr string // why there is no analysis
}

// missing says why a section has nothing to show: still loading, or the
// first reason given.
func (d *Data) missing(what string, reasons ...string) string {
	if d.OpenErr != "" {
		return "no " + what + ": " + d.OpenErr
	}
	for _, r := range reasons {
		if r != "" {
			return "no " + what + ": " + r
		}
	}
	if d.Loading != "" {
		return what + ": still loading (" + d.Loading + ")"
	}
	return "no " + what
}

// steps is the timeline, or nil before the analysis arrived.
func (d *Data) steps() []timeline.Step {
	if d.Report == nil {
		return nil
	}
	return d.Report.Timeline
}
