package views

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/panicscope/panicscope/vmcore/analysis"
	"github.com/panicscope/panicscope/vmcore/analysis/timeline"
	"github.com/panicscope/panicscope/vmcore/finding"
	"github.com/panicscope/panicscope/vmcore/printk"
)

// evil is what a hostile dump can put in any string: a screen clear, a
// title/clipboard OSC, an 8-bit CSI, a bidi override, a stray byte.
const evil = "x\x1b[2J\x1b]52;c;ZXZpbA==\x07\u009b31m\u202e\xff\ry"

func hostileReport() *analysis.Report {
	str := func(s string) *string { return &s }
	one := 1
	probs := finding.List{finding.Newf(finding.Damaged, finding.About(finding.AreaDump), "%s", evil)}
	return &analysis.Report{
		Identity: analysis.Identity{Release: str("6.1" + evil), Version: str(evil), Hostname: evil, Format: "kdump-compressed",
			PanicMessage: str(evil), Problems: probs},
		Kernel: analysis.KernelInfo{Release: str(evil), Version: str(evil), Capture: "kdump", CaptureWhy: evil},
		Panic:  analysis.PanicInfo{Message: str(evil), TaskComm: str(evil), CPU: &one, FirstReport: evil},
		Chains: []analysis.Chain{{Name: "panic_notifier_list", Complete: true, Entries: []analysis.ChainEntry{
			{Callback: evil, Module: evil}, {Callback: "ok", Module: ""}}}},
		Dumpers:  []analysis.Dumper{{Callback: evil, Module: evil, Registered: true}},
		Pstore:   &analysis.Pstore{Backend: str(evil), Records: []analysis.PstoreRecord{{Kind: "dmesg", Title: evil, Header: evil, Text: evil}}},
		Consoles: []analysis.Console{{Name: str(evil)}},
		CPUs:     []analysis.CPUState{{CPU: 1, Role: analysis.RolePanicking, TaskComm: str(evil), IPSymbol: str(evil), Task: str(evil), RoleWhy: evil}},
		Timeline: []timeline.Step{{Step: timeline.StepKmsgDump, Reason: evil,
			Evidence: []timeline.Evidence{{Kind: timeline.EvLog, Text: evil}},
			Members:  []timeline.Member{{Name: evil, Module: evil}}}},
		Problems: probs,
	}
}

// terminalSafe fails when out holds a byte or character a terminal acts on
// (newlines apart).
func terminalSafe(t *testing.T, what, out string) {
	t.Helper()
	if !utf8.ValidString(out) {
		t.Errorf("%s: not UTF-8", what)
	}
	for i, r := range out {
		if (r < 0x20 && r != '\n') || r == 0x7f || (r >= 0x80 && r <= 0x9f) || r == 0x202e {
			t.Errorf("%s: %U at byte %d: %q", what, r, i, out[max(0, i-20):min(len(out), i+20)])
			return
		}
	}
	if !strings.Contains(out, `\x1b[2J`) {
		t.Errorf("%s: the escaped sequence is not shown", what)
	}
}

// TestDumpStringsEscaped renders a report whose every dump-derived string
// is hostile through every text output and TUI page.
func TestDumpStringsEscaped(t *testing.T) {
	r := hostileReport()
	terminalSafe(t, "report text", ReportText(r, 100))
	terminalSafe(t, "report markdown", ReportMarkdown(r))
	id := r.Identity
	d := Data{Path: "dump", Identity: &id, Report: r, Log: []printk.Line{{Text: evil}}}
	// Styles that add no escape sequences of their own.
	st := Styles{Glyphs: UnicodeGlyphs()}
	for name, lines := range map[string][]string{
		"overview": OverviewLines(d, 100, st),
		"buffers":  BuffersLines(d, 100, st),
		"chains":   ChainsLines(d, 100, st),
		"cpus":     CPUsLines(d, 100, st),
	} {
		terminalSafe(t, name, strings.Join(lines, "\n"))
	}
	tl, _, _ := TimelineLines(d, TimelineState{Expanded: map[int]bool{0: true}}, 100, st)
	for name, out := range map[string]string{
		"timeline": strings.Join(tl, "\n"),
		"log":      Log(d, LogState{Visible: []int{0}, MaxLevel: 7, Mark: -1}, 100, 10, st),
		"log wrap": Log(d, LogState{Visible: []int{0}, MaxLevel: 7, Mark: -1, Wrap: true, Query: "x"}, 100, 10, st),
	} {
		terminalSafe(t, name, out)
	}
}
