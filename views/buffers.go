package views

import (
	"fmt"
	"strings"

	"github.com/panicscope/panicscope/vmcore/analysis"
	"github.com/panicscope/panicscope/vmcore/analysis/timeline"
	"github.com/panicscope/panicscope/vmcore/finding"

	"github.com/panicscope/panicscope/internal/termsafe"
)

// Buffers is the Buffers page: where the log could have been saved — kmsg
// dumpers, the pstore backend and its ramoops records, the printk ring and
// the consoles.
func Buffers(d Data, w, h, offset int, st Styles) string {
	return Window(st, BuffersLines(d, w, st), offset, w, h)
}

const buffersLabelW = 9

// BuffersLines is the whole Buffers page, before scrolling.
func BuffersLines(d Data, w int, st Styles) []string {
	p := &pageDoc{st: st, w: w}
	r := d.Report
	if r == nil {
		p.add(st.Dim.Render(d.missing("dumpers, pstore and consoles", d.ReportErr)))
		ringLines(p, d)
		return p.lines
	}
	dumperTable(p, r)
	pstoreLines(p, r)
	ringLines(p, d)
	consoleTable(p, r)
	return p.lines
}

func dumperTable(p *pageDoc, r *analysis.Report) {
	st := p.st
	p.heading("kmsg dumpers (dump_list, call order)")
	switch {
	case len(r.Dumpers) == 0 && r.DumpersComplete:
		p.para(2, "none registered", st.Dim.Render)
		return
	case len(r.Dumpers) == 0:
		p.para(2, "not read: "+problemAbout(r, finding.AreaDumpers, unknown), st.Dim.Render)
		return
	case !r.DumpersComplete:
		p.para(2, "list walk stopped early: "+problemAbout(r, finding.AreaDumpers, unknown), st.Warning.Render)
	}
	var members []timeline.Member
	for _, s := range r.Timeline {
		if s.Step == timeline.StepKmsgDump {
			members = s.Members
		}
	}
	cols := []tableColumn{{title: "callback", flex: true}, {title: "module", width: 12},
		{title: "max_reason", width: 20}, {title: "in this panic", width: 13}}
	var rows [][]string
	for i, dm := range r.Dumpers {
		mod := termsafe.String(dm.Module)
		if mod == "" {
			mod = st.Dim.Render("built-in")
		}
		reason := unknown
		if dm.MaxReason != nil {
			reason = fmt.Sprintf("%s (%d)", strings.TrimPrefix(dm.ReasonName, "KMSG_DUMP_"), *dm.MaxReason)
		}
		status := st.Unknown.Render(st.Glyphs.Unknown + " unknown")
		if i < len(members) && members[i].Name == dm.Callback {
			m := members[i]
			status = st.StatusStyle(m.Status).Render(st.Mark(m.Status) + " " + StatusWord(m.Status))
		}
		if !dm.Registered {
			status = st.Dim.Render("unregistered")
		}
		rows = append(rows, []string{termsafe.String(dm.Callback), mod, reason, status})
	}
	p.add(st.table(cols, rows, p.w)...)
}

func pstoreLines(p *pageDoc, r *analysis.Report) {
	st := p.st
	p.heading("pstore")
	ps := r.Pstore
	if ps == nil {
		p.para(2, problemAbout(r, finding.AreaPstore, "no backend registered (psinfo is NULL)"), st.Dim.Render)
		return
	}
	p.para(2, fmt.Sprintf("backend %s, flags %s, buffer %s bytes", orUnknown(ps.Backend), uintHex(ps.Flags), uintText(ps.BufSize)), nil)
	if pr, ok := problemFor(r, finding.About(finding.AreaPstore, "ramoops")); ok {
		p.para(2, pr.Message(), st.Warning.Render)
	}
	if len(ps.Records) == 0 {
		if orUnknown(ps.Backend) == "ramoops" {
			p.para(2, "no records in the ramoops zones", st.Dim.Render)
		}
		return
	}
	cols := []tableColumn{{title: "zone", width: 4, right: true}, {title: "kind", width: 7},
		{title: "title", width: 16}, {title: "header", flex: true}, {title: "", width: 10}}
	var rows [][]string
	for _, rec := range ps.Records {
		comp := ""
		switch {
		case rec.Text != "":
			comp = "text read" // shown by PstoreText
		case rec.Compressed:
			comp = "compressed"
		}
		rows = append(rows, []string{fmt.Sprint(rec.Zone), rec.Kind, termsafe.String(rec.Title), termsafe.String(strings.TrimSpace(rec.Header)), comp})
	}
	p.add(st.table(cols, rows, p.w)...)
	if PstoreHasText(Data{Report: r}) {
		p.para(2, "enter shows the records' text", st.Dim.Render)
	}
}

func ringLines(p *pageDoc, d Data) {
	st := p.st
	p.heading("printk ring")
	r := d.Report
	if r == nil || r.Log == nil {
		if len(d.Log) > 0 {
			p.para(2, fmt.Sprintf("%d lines read; statistics come with the analysis", len(d.Log)), st.Dim.Render)
		} else {
			p.para(2, d.missing("kernel log", d.LogErr, problemAbout(r, finding.AreaLog, "")), st.Dim.Render)
		}
		return
	}
	l := r.Log
	kv := func(k, v string) { p.kv("  "+k, buffersLabelW+2, v, nil) }
	kv("source", l.Source)
	if l.Records > 0 {
		kv("records", fmt.Sprintf("%d readable, seq %d-%d; next seq %d", l.Records, l.FirstSeq, l.NextSeq-1, l.NextSeq))
	} else {
		kv("records", fmt.Sprintf("none; next seq %d", l.NextSeq))
	}
	kv("dropped", fmt.Sprintf("%d overwritten when the ring wrapped", l.Dropped))
	kv("gaps", fmt.Sprintf("%d unreadable runs of records", l.Gaps))
	kv("size", fmt.Sprintf("%d bytes of text", l.Size))
}

func consoleTable(p *pageDoc, r *analysis.Report) {
	st := p.st
	p.heading("consoles")
	if len(r.Consoles) == 0 {
		p.para(2, problemAbout(r, finding.AreaConsoles, "none registered"), st.Dim.Render)
		return
	}
	if pr := problemAbout(r, finding.AreaConsoles, ""); pr != "" {
		p.para(2, pr, st.Warning.Render)
	}
	cols := []tableColumn{{title: "console", flex: true}, {title: "state", width: 8}, {title: "flags", width: 8}}
	var rows [][]string
	for _, c := range r.Consoles {
		state := st.Dim.Render(unknown)
		switch {
		case c.Enabled == nil:
		case *c.Enabled:
			state = "enabled"
		default:
			state = st.Dim.Render("disabled")
		}
		rows = append(rows, []string{termsafe.String(consoleName(c)), state, uintHex(c.Flags)})
	}
	p.add(st.table(cols, rows, p.w)...)
}

// consoleName is the name and index as the kernel prints them ("ttyS0").
func consoleName(c analysis.Console) string {
	idx := "?"
	if c.Index != nil {
		idx = fmt.Sprint(*c.Index)
	}
	return orUnknown(c.Name) + idx
}
