package views

import (
	"github.com/panicscope/panicscope/vmcore/analysis"
	"github.com/panicscope/panicscope/vmcore/finding"
)

// unknown is how a fact that could not be established is shown.
const unknown = "unknown"

// problemAbout is the message of the report's first problem in area, else
// fallback: sections pick their problems by subject, never by text.
func problemAbout(r *analysis.Report, area, fallback string) string {
	if r == nil {
		return fallback
	}
	if ps := r.Problems.About(area); len(ps) > 0 {
		return ps[0].Message()
	}
	return fallback
}

// problemFor is the first problem about exactly subject (area and ID).
func problemFor(r *analysis.Report, subject finding.Subject) (finding.Problem, bool) {
	if r == nil {
		return finding.Problem{}, false
	}
	for _, p := range r.Problems {
		if p.Subject == subject {
			return p, true
		}
	}
	return finding.Problem{}, false
}

// unknownBecause is "unknown", with the first problem about one of the
// subjects as the reason.
func unknownBecause(r *analysis.Report, subjects ...finding.Subject) string {
	for _, s := range subjects {
		if p, ok := problemFor(r, s); ok {
			return unknown + " (" + p.Message() + ")"
		}
	}
	return unknown
}

// orUnknown is *s, or "unknown" for nil.
func orUnknown(s *string) string {
	if s == nil {
		return unknown
	}
	return *s
}

// allProblems are the identity's problems (about the dump file) and the
// analysis's, each once.
func allProblems(id *analysis.Identity, r *analysis.Report) finding.List {
	var out finding.List
	seen := map[string]bool{}
	add := func(l finding.List) {
		for _, p := range l {
			if m := p.Message(); !seen[m] {
				seen[m] = true
				out = append(out, p)
			}
		}
	}
	if r != nil {
		add(r.Identity.Problems)
		add(r.Problems)
	} else if id != nil {
		add(id.Problems)
	}
	return out
}

// Problems are what could not be read, as the Overview lists them: the
// dump's (identity) and the analysis's.
func Problems(d Data) finding.List { return allProblems(d.Identity, d.Report) }
