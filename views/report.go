// Package views renders analysis results as text: pure functions from data,
// a width and styles to a string. Nothing here reads a dump or a terminal.
package views

import "github.com/panicscope/panicscope/vmcore/analysis"

// ReportText is the plain-text report, readable in a ticket.
func ReportText(r *analysis.Report, width int) string { return "" }

// ReportMarkdown is the report as Markdown.
func ReportMarkdown(r *analysis.Report) string { return "" }
