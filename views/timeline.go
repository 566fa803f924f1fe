package views

import (
	"fmt"
	"strings"

	"charm.land/lipgloss/v2"

	"github.com/panicscope/panicscope/vmcore/analysis/timeline"
	"github.com/panicscope/panicscope/vmcore/printk"

	"github.com/panicscope/panicscope/internal/termsafe"
)

// TimelineState is the Timeline page's cursor, expanded steps and scroll.
type TimelineState struct {
	Cursor   int          // entry of TimelineRows
	Expanded map[int]bool // by step index
	Offset   int          // first shown line
}

// RowKind tells the selectable rows of the Timeline page apart.
type RowKind int

// Row kinds.
const (
	RowStep           RowKind = iota
	RowEvidence               // evidence of a step
	RowMember                 // a notifier callback or kmsg dumper
	RowMemberEvidence         // evidence of a member
)

// TimelineRow is one selectable row of the Timeline page.
type TimelineRow struct {
	Kind     RowKind
	Step     int
	Member   int     // RowMember, RowMemberEvidence
	Evidence int     // RowEvidence, RowMemberEvidence
	Seq      *uint64 // the log record the row points at, nil for none
}

// TimelineRows lists the selectable rows: every step, and for expanded steps
// their evidence, members and the members' evidence.
func TimelineRows(steps []timeline.Step, expanded map[int]bool) []TimelineRow {
	var rows []TimelineRow
	for si, s := range steps {
		rows = append(rows, TimelineRow{Kind: RowStep, Step: si, Seq: stepSeq(s)})
		if !expanded[si] {
			continue
		}
		for ei, e := range s.Evidence {
			rows = append(rows, TimelineRow{Kind: RowEvidence, Step: si, Evidence: ei, Seq: e.Seq})
		}
		for mi, m := range s.Members {
			rows = append(rows, TimelineRow{Kind: RowMember, Step: si, Member: mi, Seq: memberSeq(m)})
			for ei, e := range m.Evidence {
				rows = append(rows, TimelineRow{Kind: RowMemberEvidence, Step: si, Member: mi, Evidence: ei, Seq: e.Seq})
			}
		}
	}
	return rows
}

// stepSeq is the first log record among a step's evidence, then its members'.
func stepSeq(s timeline.Step) *uint64 {
	for _, e := range s.Evidence {
		if e.Seq != nil {
			return e.Seq
		}
	}
	for _, m := range s.Members {
		if q := memberSeq(m); q != nil {
			return q
		}
	}
	return nil
}

func memberSeq(m timeline.Member) *uint64 {
	for _, e := range m.Evidence {
		if e.Seq != nil {
			return e.Seq
		}
	}
	return nil
}

// Timeline is the Timeline page: the steps of panic() in order with their
// status, expanded steps showing reason, source, evidence and members.
func Timeline(d Data, s TimelineState, w, h int, st Styles) string {
	lines, _, _ := TimelineLines(d, s, w, st)
	return Window(st, lines, s.Offset, w, h)
}

const stepIndent = 7 // "› ✓ 12 " before a step's label

// TimelineLines is the whole Timeline page, and the first and last line of
// the cursor's row (a step row spans its expanded details).
func TimelineLines(d Data, s TimelineState, w int, st Styles) (lines []string, first, last int) {
	steps := d.steps()
	if d.Report == nil {
		return []string{st.Dim.Render(d.missing("timeline", d.ReportErr))}, 0, 0
	}
	g := st.Glyphs
	legend := strings.Join([]string{
		st.Ran.Render(g.Ran) + " ran", st.Running.Render(g.Running) + " running",
		st.Skipped.Render(g.Skipped) + " skipped", st.NotReached.Render(g.NotReached) + " not reached",
		st.Unknown.Render(g.Unknown) + " unknown",
	}, "  ")
	head := legend
	if model := "model " + d.Report.Line; d.Report.Line != "" && cellWidth(legend)+2+cellWidth(model) <= w {
		head += strings.Repeat(" ", w-cellWidth(legend)-cellWidth(model)) + st.Dim.Render(model)
	}
	lines = []string{st.truncate(head, w)}
	if len(steps) == 0 {
		return append(lines, st.Dim.Render(d.missing("timeline steps", d.ReportErr))), 0, 0
	}
	rows := TimelineRows(steps, s.Expanded)
	labelW := 0
	for _, step := range steps {
		labelW = max(labelW, cellWidth(StepLabel(step)))
	}
	labelW = min(labelW, max(w*2/5, 12))
	first, last = -1, -1
	for ri, r := range rows {
		sel := ri == s.Cursor
		start := len(lines)
		step := steps[r.Step]
		switch r.Kind {
		case RowStep:
			lines = append(lines, st.stepRow(step, r.Step, labelW, w, sel))
			if s.Expanded[r.Step] {
				lines = append(lines, st.stepDetails(step, w)...)
			}
		case RowEvidence:
			lines = append(lines, st.evidenceRow(step.Evidence[r.Evidence], stepIndent, w, sel))
		case RowMember:
			lines = append(lines, st.memberRow(step, step.Members[r.Member], w, sel))
		case RowMemberEvidence:
			lines = append(lines, st.evidenceRow(step.Members[r.Member].Evidence[r.Evidence], stepIndent+4, w, sel))
		}
		if sel {
			first, last = start, len(lines)-1
			if r.Kind == RowStep {
				// The step's members and evidence belong to its block.
				for j := ri + 1; j < len(rows) && rows[j].Kind != RowStep; j++ {
					last++
				}
			}
		}
	}
	if first < 0 {
		first, last = 1, 1
	}
	return lines, first, min(last, len(lines)-1)
}

// sel renders text with style unless the row is selected: the cursor style
// covers the whole selected row and inner styles would break it.
func unlessSelected(selected bool, style lipgloss.Style, text string) string {
	if selected {
		return text
	}
	return style.Render(text)
}

func (st Styles) cursorCol(selected bool) string {
	if selected {
		return st.Glyphs.Cursor + " "
	}
	return "  "
}

func (st Styles) finishRow(row string, w int, selected bool) string {
	if selected {
		return st.Cursor.Render(st.pad(row, w))
	}
	return st.truncate(row, w)
}

func (st Styles) stepRow(s timeline.Step, i, labelW, w int, selected bool) string {
	label := st.pad(StepLabel(s), labelW)
	labelStyle := lipgloss.NewStyle()
	if s.Status == timeline.Running {
		labelStyle = st.Running
	}
	row := st.cursorCol(selected) + unlessSelected(selected, st.StatusStyle(s.Status), st.Mark(s.Status)) +
		fmt.Sprintf(" %2d ", i+1) + unlessSelected(selected, labelStyle, label) + " " +
		unlessSelected(selected, st.Dim, st.truncate(termsafe.String(stepSummary(s)), max(w-stepIndent-labelW-1, 0)))
	return st.finishRow(row, w, selected)
}

// stepSummary is the one-line gist of a step: its reason, else its members'
// statuses, else its first evidence, else the kernel function.
func stepSummary(s timeline.Step) string {
	if s.Reason != "" {
		return s.Reason
	}
	if len(s.Members) > 0 {
		return memberCounts(s)
	}
	if len(s.Evidence) > 0 {
		return s.Evidence[0].Text
	}
	return s.Function
}

// memberCounts is "9 callbacks: 7 ran, 2 not reached".
func memberCounts(s timeline.Step) string {
	noun := "callback"
	if s.Step == timeline.StepKmsgDump {
		noun = "dumper"
	}
	var order []timeline.Status
	n := map[timeline.Status]int{}
	for _, m := range s.Members {
		if n[m.Status] == 0 {
			order = append(order, m.Status)
		}
		n[m.Status]++
	}
	var parts []string
	for _, o := range order {
		parts = append(parts, fmt.Sprintf("%d %s", n[o], StatusWord(o)))
	}
	return countNoun(len(s.Members), noun, noun+"s") + ": " + strings.Join(parts, ", ")
}

func (st Styles) stepDetails(s timeline.Step, w int) []string {
	p := &pageDoc{st: st, w: w}
	if s.Reason != "" {
		p.para(stepIndent, StatusWord(s.Status)+": "+s.Reason, st.StatusStyle(s.Status).Render)
	}
	p.para(stepIndent, joinNonEmpty(" — ", s.Function, s.Source), st.Dim.Render)
	if s.Note != "" {
		p.para(stepIndent, "note: "+s.Note, st.Dim.Render)
	}
	if len(s.Members) > 0 && s.Reason != "" {
		p.para(stepIndent, memberCounts(s), st.Label.Render)
	}
	return p.lines
}

// evidenceLine is one evidence line; log lines carry their timestamp.
func evidenceLine(e timeline.Evidence) string {
	text := termsafe.String(e.Text)
	if e.TimestampNS != nil {
		text = "[" + strings.TrimSpace(strings.Trim(printk.FormatTimestamp(*e.TimestampNS), "[]")) + "] " + text
	}
	return text
}

func (st Styles) evidenceRow(e timeline.Evidence, indent, w int, selected bool) string {
	row := st.cursorCol(selected) + strings.Repeat(" ", indent-2) +
		unlessSelected(selected, st.Label, st.pad(string(e.Kind), 8)) + evidenceLine(e)
	return st.finishRow(row, w, selected)
}

func (st Styles) memberRow(s timeline.Step, m timeline.Member, w int, selected bool) string {
	name := termsafe.String(m.Name)
	if m.Module != "" {
		name += " [" + termsafe.String(m.Module) + "]"
	}
	var extra []string
	if m.Priority != nil {
		extra = append(extra, fmt.Sprintf("prio %d", *m.Priority))
	}
	if s.Step == timeline.StepKmsgDump {
		extra = append(extra, "max_reason "+reasonName(m.MaxReason))
	}
	status := StatusWord(m.Status)
	if m.Reason != "" && m.Reason != s.Reason {
		status += ": " + m.Reason
	}
	row := st.cursorCol(selected) + strings.Repeat(" ", stepIndent-2) +
		unlessSelected(selected, st.StatusStyle(m.Status), st.Mark(m.Status)) + " " + name + "  " +
		unlessSelected(selected, st.Dim, strings.Join(extra, ", ")) + "  " + unlessSelected(selected, st.StatusStyle(m.Status), status)
	return st.finishRow(row, w, selected)
}

// reasonName names a KMSG_DUMP_* value as include/linux/kmsg_dump.h does.
func reasonName(r *int) string {
	names := []string{"UNDEF (= OOPS)", "PANIC", "OOPS", "EMERG", "SHUTDOWN"}
	switch {
	case r == nil:
		return unknown
	case *r >= 0 && *r < len(names):
		return names[*r]
	}
	return fmt.Sprint(*r)
}
