// Package finding is the shape of "what could not be established": a
// Problem has a Kind callers branch on, a Subject saying what it is about
// (which chain, which CPU, which page) and the underlying error, so
// errors.As still reaches a *phys.MissingError or *vmem.FaultError. Views
// pick the problems of a section by Subject.Area, never by searching text.
package finding

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Kind classifies a problem.
type Kind string

const (
	// Unreadable: memory the fact lives in could not be read (a page not in
	// the dump, excluded by filtering, or an address that does not map).
	Unreadable Kind = "unreadable"
	// Truncated: the dump file ends before the data it describes.
	Truncated Kind = "truncated"
	// NoSource: an input the fact needs is absent (no VMCOREINFO, no
	// symbols, no types, a symbol or member this kernel does not have).
	NoSource Kind = "no-source"
	// Damaged: data was read but is inconsistent (a cyclic list, a bad
	// magic, a value out of range).
	Damaged Kind = "damaged"
	// Limit: a bound panicscope sets was reached (list length, scan size).
	Limit Kind = "limit"
	// Unsupported: a format, architecture or layout panicscope does not read.
	Unsupported Kind = "unsupported"
)

// Areas of a report a problem can be about.
const (
	AreaDump     = "dump"     // the file: format, header, notes
	AreaSymbols  = "symbols"  // kallsyms, System.map, module symbols
	AreaTypes    = "types"    // BTF, DWARF
	AreaModules  = "modules"  // the module list
	AreaLog      = "log"      // the printk ring / log_buf
	AreaChain    = "chain"    // a notifier chain (ID: its symbol)
	AreaDumpers  = "dumpers"  // dump_list
	AreaPstore   = "pstore"   // psinfo, ramoops zones
	AreaConsoles = "consoles" // console_drivers / console_list
	AreaParams   = "params"   // panic parameters (ID: the variable)
	AreaCPU      = "cpu"      // one CPU (ID: its index)
	AreaPanic    = "panic"    // the panic message, CPU, task
	AreaTimeline = "timeline" // the panic() model
	AreaPage     = "page"     // a page of the dump (ID: its address)
)

// Subject is what a problem is about: an Area and, within it, an ID.
type Subject struct {
	Area string
	ID   string
}

// String is "cpu 1", "chain panic_notifier_list", or the bare area.
func (s Subject) String() string {
	if s.ID == "" {
		return s.Area
	}
	return s.Area + " " + s.ID
}

// About builds a Subject.
func About(area string, id ...string) Subject {
	s := Subject{Area: area}
	if len(id) > 0 {
		s.ID = id[0]
	}
	return s
}

// Problem is one fact that could not be established, and why.
type Problem struct {
	Kind    Kind
	Subject Subject
	Err     error
}

// New wraps err as a problem.
func New(kind Kind, subject Subject, err error) Problem {
	return Problem{Kind: kind, Subject: subject, Err: err}
}

// Newf builds a problem from a format; %w wraps as in fmt.Errorf.
func Newf(kind Kind, subject Subject, format string, args ...any) Problem {
	return Problem{Kind: kind, Subject: subject, Err: fmt.Errorf(format, args...)}
}

// Message is the human text: "subject: error".
func (p Problem) Message() string {
	msg := "unknown problem"
	if p.Err != nil {
		msg = p.Err.Error()
	}
	if p.Subject.Area == "" {
		return msg
	}
	return p.Subject.String() + ": " + msg
}

// Error makes a Problem usable as an error.
func (p Problem) Error() string { return p.Message() }

// Unwrap exposes the underlying error to errors.Is / errors.As.
func (p Problem) Unwrap() error { return p.Err }

type problemJSON struct {
	Kind    Kind   `json:"kind"`
	Subject string `json:"subject"`
	Message string `json:"message"`
}

// MarshalJSON writes {kind, subject, message}.
func (p Problem) MarshalJSON() ([]byte, error) {
	msg := ""
	if p.Err != nil {
		msg = p.Err.Error()
	}
	return json.Marshal(problemJSON{Kind: p.Kind, Subject: p.Subject.String(), Message: msg})
}

// UnmarshalJSON reads what MarshalJSON wrote (the error becomes its text).
func (p *Problem) UnmarshalJSON(b []byte) error {
	var j problemJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	p.Kind = j.Kind
	p.Subject = parseSubject(j.Subject)
	p.Err = errors.New(j.Message)
	return nil
}

func parseSubject(s string) Subject {
	for i := 0; i < len(s); i++ {
		if s[i] == ' ' {
			return Subject{Area: s[:i], ID: s[i+1:]}
		}
	}
	return Subject{Area: s}
}

// List is a section's problems.
type List []Problem

// Add appends a problem.
func (l *List) Add(p Problem) { *l = append(*l, p) }

// Addf appends a problem built from a format.
func (l *List) Addf(kind Kind, subject Subject, format string, args ...any) {
	l.Add(Newf(kind, subject, format, args...))
}

// About returns the problems whose subject is in area.
func (l List) About(area string) List {
	var out List
	for _, p := range l {
		if p.Subject.Area == area {
			out = append(out, p)
		}
	}
	return out
}

// KindOf classifies err: Unreadable for memory faults the caller recognises
// by isFault, else fallback. Callers pass phys.IsMissing / vmem.IsFault.
func KindOf(err error, fallback Kind, isFault ...func(error) bool) Kind {
	var p Problem
	if errors.As(err, &p) {
		return p.Kind
	}
	for _, f := range isFault {
		if f(err) {
			return Unreadable
		}
	}
	return fallback
}
