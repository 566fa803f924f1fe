package main

import (
	"encoding/json"
	"io"

	"github.com/panicscope/panicscope/views"
	"github.com/panicscope/panicscope/vmcore/analysis"
	"github.com/panicscope/panicscope/vmcore/finding"
)

// planJSON is what `plan --json` prints.
type planJSON struct {
	SchemaVersion int                  `json:"schema_version"`
	Release       *string              `json:"release"`
	Capture       string               `json:"capture"`
	Parameters    analysis.Parameters  `json:"parameters"`
	Plan          *analysis.PlanResult `json:"plan"`
	Problems      finding.List         `json:"problems"`
}

func runPlan(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("plan", stdout)
	var tf targetFlags
	tf.register(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	width := fs.Int("width", 0, "wrap text output at `COLS` columns (default: the terminal's width, 80 when not a terminal)")
	dump, _, err := tf.parse(fs, args, 0, 0, "usage: panicscope plan DUMP|--live [--json] [--width N]")
	if err != nil {
		return err
	}
	if *width < 0 || (*width > 0 && *width < minWidth) {
		return usagef("plan: --width %d: at least %d columns", *width, minWidth)
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
		return enc.Encode(planJSON{SchemaVersion: analysis.SchemaVersion, Release: r.Kernel.Release, Capture: string(r.Kernel.Capture), Parameters: r.Parameters, Plan: r.Plan, Problems: r.Problems})
	}
	_, err = io.WriteString(stdout, views.PlanText(r, outputWidth(stdout, *width)))
	return err
}
