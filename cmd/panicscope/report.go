package main

import (
	"encoding/json"
	"io"

	"github.com/panicscope/panicscope/views"
	"github.com/panicscope/panicscope/vmcore/analysis"
)

func runReport(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("report", stdout)
	var tf targetFlags
	tf.register(fs)
	asJSON := fs.Bool("json", false, "print the versioned JSON report (docs/report-schema.md)")
	asMarkdown := fs.Bool("markdown", false, "print Markdown, for tickets that render it")
	width := fs.Int("width", 0, "wrap text output at `COLS` columns (default: the terminal's width, 80 when not a terminal)")
	dump, _, err := tf.parse(fs, args, 0, 0, "usage: panicscope report DUMP|--live [--json | --markdown]")
	if err != nil {
		return err
	}
	if *width < 0 || (*width > 0 && *width < minWidth) {
		return usagef("report: --width %d: at least %d columns", *width, minWidth)
	}
	if *asJSON && *asMarkdown {
		return usagef("report: --json and --markdown are two formats: give one")
	}
	t, err := tf.open(dump, stderr)
	if err != nil {
		return err
	}
	defer t.Close()
	r := analysis.Build(t)
	switch {
	case *asJSON:
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	case *asMarkdown:
		_, err = io.WriteString(stdout, views.ReportMarkdown(r))
	default:
		_, err = io.WriteString(stdout, views.ReportText(r, outputWidth(stdout, *width)))
	}
	return err
}
