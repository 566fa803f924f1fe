package views

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"

	"github.com/panicscope/panicscope/vmcore/analysis"
	"github.com/panicscope/panicscope/vmcore/finding"
	"github.com/panicscope/panicscope/vmcore/printk"
)

// plain strips styling and squeezes runs of spaces, so tests match words
// rather than column widths.
func plain(s string) string {
	return regexp.MustCompile(` +`).ReplaceAllString(ansi.Strip(s), " ")
}

// endOnlyLog is a log whose "Kernel panic - not syncing" record was lost:
// only panic()'s closing line carries the message.
func endOnlyLog() *printk.Log {
	return &printk.Log{Records: []printk.Record{
		{Seq: 40, TimestampNS: 3e9, Text: "labpanic: notifier prio=INT_MAX ran first"},
		{Seq: 41, TimestampNS: 3e9, Text: "---[ end Kernel panic - not syncing: boom ]---"},
	}}
}

// TestPanicMessageOnlyEndLine: the first screen (log only), the Overview
// with the analysis, the report and the log page's jump all show the
// message printk finds, never the raw end line.
func TestPanicMessageOnlyEndLine(t *testing.T) {
	st := PlainStyles(UnicodeGlyphs())
	log := endOnlyLog()
	p, ok := log.Panic()
	if !ok {
		t.Fatal("printk finds no panic")
	}
	lines := log.Lines()
	first := plain(strings.Join(OverviewLines(Data{Path: "x", Identity: &analysis.Identity{}, Log: lines, Loading: "analysis"}, 100, st), "\n"))
	if !strings.Contains(first, "Panic boom") || strings.Contains(first, "---[ end") {
		t.Errorf("first screen:\n%s", first)
	}
	r := &analysis.Report{Panic: analysis.PanicInfo{Message: &p.Message, MessageFrom: analysis.FromEndLine}}
	full := plain(strings.Join(OverviewLines(Data{Path: "x", Log: lines, Report: r}, 100, st), "\n"))
	if !strings.Contains(full, "Panic boom") {
		t.Errorf("overview with the report:\n%s", full)
	}
	if txt := plain(ReportText(r, 100)); !strings.Contains(txt, "Panic: boom\n") {
		t.Errorf("report:\n%s", txt)
	}
	if i := PanicLine(lines); i != 1 || lines[i].Seq != p.Seq {
		t.Errorf("PanicLine = %d, want the end line (seq %d)", i, p.Seq)
	}
}

// TestUnknownFactsShowTheirReason: nil facts render as "unknown" with the
// problem about their subject, not as zero values.
func TestUnknownFactsShowTheirReason(t *testing.T) {
	st := PlainStyles(UnicodeGlyphs())
	r := &analysis.Report{
		Panic:  analysis.PanicInfo{CPUSource: "panic_cpu could not be read"},
		CPUs:   []analysis.CPUState{{CPU: 0, Role: analysis.RoleUnknown}},
		Chains: []analysis.Chain{},
	}
	r.Problems.Add(finding.New(finding.Unreadable, finding.About(finding.AreaLog), errors.New("prb unreadable")))
	r.Problems.Add(finding.New(finding.Unreadable, finding.About(finding.AreaParams, "tainted_mask"), errors.New("page missing")))
	r.Problems.Add(finding.New(finding.Unreadable, finding.About(finding.AreaCPU, "0"), errors.New("current task: page missing")))
	r.Problems.Add(finding.New(finding.NoSource, finding.About(finding.AreaChain), errors.New("no symbols")))
	r.Problems.Add(finding.New(finding.NoSource, finding.About(finding.AreaDumpers), errors.New("dump_list absent")))
	d := Data{Path: "x", Report: r}
	ov := plain(strings.Join(OverviewLines(d, 200, st), "\n"))
	for _, want := range []string{
		"Panic unknown (log: prb unreadable)",
		"CPU unknown: panic_cpu could not be read",
		"Taint unknown (params tainted_mask: page missing)",
		"Kernel unknown",
	} {
		if !strings.Contains(ov, want) {
			t.Errorf("overview lacks %q:\n%s", want, ov)
		}
	}
	cpus := plain(strings.Join(CPUsLines(d, 120, st), "\n"))
	if !strings.Contains(cpus, "task unknown") || !strings.Contains(cpus, "note current task: page missing") || strings.Contains(cpus, "pid -1") {
		t.Errorf("cpus page:\n%s", cpus)
	}
	if ch := plain(strings.Join(ChainsLines(d, 120, st), "\n")); !strings.Contains(ch, "chain: no symbols") {
		t.Errorf("chains page picks its problem by area:\n%s", ch)
	}
	buf := plain(strings.Join(BuffersLines(d, 120, st), "\n"))
	if !strings.Contains(buf, "not read: dumpers: dump_list absent") || strings.Contains(buf, "none registered\n") {
		t.Errorf("buffers page: an unread dump_list is not an empty one:\n%s", buf)
	}
	txt := plain(ReportText(r, 100))
	if strings.Contains(txt, "none registered") || !strings.Contains(txt, "dump_list not read: dumpers: dump_list absent") {
		t.Errorf("report text:\n%s", txt)
	}
}

// TestProblemAboutBySubject: a problem is found by its area, not by words
// in its text.
func TestProblemAboutBySubject(t *testing.T) {
	r := &analysis.Report{}
	r.Problems.Add(finding.New(finding.Damaged, finding.About(finding.AreaPstore), errors.New("the cpu list is cyclic")))
	if got := problemAbout(r, finding.AreaCPU, "none"); got != "none" {
		t.Errorf("a pstore problem mentioning cpu was picked for cpu: %q", got)
	}
	if got := problemAbout(r, finding.AreaPstore, "none"); got != "pstore: the cpu list is cyclic" {
		t.Errorf("pstore problem: %q", got)
	}
}
