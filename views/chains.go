package views

import (
	"fmt"

	"github.com/panicscope/panicscope/vmcore/analysis"
	"github.com/panicscope/panicscope/vmcore/analysis/timeline"
	"github.com/panicscope/panicscope/vmcore/finding"

	"github.com/panicscope/panicscope/internal/termsafe"
)

// Chains is the Chains page: every notifier chain in call order; for
// panic_notifier_list, whether each callback ran in this panic.
func Chains(d Data, w, h, offset int, st Styles) string {
	return Window(st, ChainsLines(d, w, st), offset, w, h)
}

// ChainsLines is the whole Chains page, before scrolling.
func ChainsLines(d Data, w int, st Styles) []string {
	p := &pageDoc{st: st, w: w}
	r := d.Report
	if r == nil {
		p.add(st.Dim.Render(d.missing("notifier chains", d.ReportErr)))
		return p.lines
	}
	if len(r.Chains) == 0 {
		p.add(st.Dim.Render("no notifier chains: " + problemAbout(r, finding.AreaChain, unknown)))
		return p.lines
	}
	for _, c := range r.Chains {
		chainTable(p, c, r.Timeline)
	}
	// Chains whose head could not be read are not in r.Chains.
	for _, pr := range r.Problems.About(finding.AreaChain) {
		if pr.Subject.ID != "" && findChain(r, pr.Subject.ID) == nil {
			p.blank()
			p.add(st.Heading.Render(pr.Subject.ID) + "  " + st.Warning.Render("not read: "+pr.Err.Error()))
		}
	}
	return p.lines
}

func chainTable(p *pageDoc, c analysis.Chain, steps []timeline.Step) {
	st := p.st
	p.blank()
	head := st.Heading.Render(c.Name) + "  " +
		st.Dim.Render(joinNonEmpty(st.Glyphs.Sep, countNoun(len(c.Entries), "callback", "callbacks")+", called top to bottom", c.Address))
	p.add(head)
	if c.Broken != "" {
		p.para(2, "list walk stopped early: "+c.Broken, st.Warning.Render)
	}
	if len(c.Entries) == 0 {
		p.add("  " + st.Dim.Render("(empty)"))
		return
	}
	var members []timeline.Member
	if c.Name == "panic_notifier_list" {
		for _, s := range steps {
			if s.Step == timeline.StepNotifiers {
				members = s.Members
			}
		}
	}
	cols := []tableColumn{{title: "#", width: 3, right: true}, {title: "priority", width: 11, right: true},
		{title: "callback", flex: true}, {title: "module", width: 12}}
	if members != nil {
		cols = append(cols, tableColumn{title: "in this panic", width: 13})
	}
	rows := make([][]string, 0, len(c.Entries))
	for i, e := range c.Entries {
		mod := termsafe.String(e.Module)
		if mod == "" {
			mod = st.Dim.Render("built-in")
		}
		row := []string{fmt.Sprint(i + 1), intPtrText(e.Priority), termsafe.String(e.Callback), mod}
		if members != nil {
			if m, ok := memberFor(members, i, e); ok {
				row = append(row, st.StatusStyle(m.Status).Render(st.Mark(m.Status)+" "+StatusWord(m.Status)))
			} else {
				row = append(row, st.Unknown.Render(st.Glyphs.Unknown+" unknown"))
			}
		}
		rows = append(rows, row)
	}
	p.add(st.table(cols, rows, p.w)...)
}

// memberFor finds the timeline member for chain entry i: by position when it
// names the same callback, else by name and module.
func memberFor(members []timeline.Member, i int, e analysis.ChainEntry) (timeline.Member, bool) {
	if i < len(members) && members[i].Name == e.Callback && members[i].Module == e.Module {
		return members[i], true
	}
	for _, m := range members {
		if m.Name == e.Callback && m.Module == e.Module {
			return m, true
		}
	}
	return timeline.Member{}, false
}

func findChain(r *analysis.Report, name string) *analysis.Chain {
	for i := range r.Chains {
		if r.Chains[i].Name == name {
			return &r.Chains[i]
		}
	}
	return nil
}
