package views

import (
	"fmt"
	"strings"

	"github.com/panicscope/panicscope/vmcore/analysis/timeline"
)

// Verdict sums a timeline up in one line: where the crash kernel ran
// relative to the panic notifiers, what never ran, and where panic() was
// when the dump was taken.
func Verdict(steps []timeline.Step) string {
	if len(steps) == 0 {
		return "no timeline"
	}
	var pre, post, notifiers, dumpers *timeline.Step
	for i := range steps {
		s := &steps[i]
		switch {
		case s.Step == timeline.StepCrashKexec && s.Slot == timeline.SlotAfterKmsgDump:
			post = s
		case s.Step == timeline.StepCrashKexec:
			pre = s
		case s.Step == timeline.StepNotifiers:
			notifiers = s
		case s.Step == timeline.StepKmsgDump:
			dumpers = s
		}
	}
	never := countMembers(notifiers, dumpers, "never ran", timeline.NotReached, timeline.Skipped)
	switch {
	case kexecRan(pre):
		return joinNonEmpty("; ", "kdump ran before the panic notifiers", never)
	case kexecRan(post):
		return joinNonEmpty("; ", "kdump ran after the panic notifiers and kmsg dumpers",
			countMembers(notifiers, dumpers, "ran first", timeline.Ran), never)
	}
	prefix := "kdump did not run"
	if kexecSkipped(pre) && kexecSkipped(post) {
		prefix = "no crash kernel"
	}
	return prefix + ": " + joinNonEmpty("; ", whatRan(notifiers, dumpers), wherePanicWas(steps))
}

func kexecRan(s *timeline.Step) bool {
	return s != nil && (s.Status == timeline.Running || s.Status == timeline.Ran)
}

// skipped is true for a missing step too: a kernel line without it.
func kexecSkipped(s *timeline.Step) bool { return s == nil || s.Status == timeline.Skipped }

// countMembers says how many notifier callbacks and kmsg dumpers have one of
// the statuses: "9 notifiers and 1 kmsg dumper never ran". A step whose
// members were not read counts as a whole ("the notifiers never ran").
func countMembers(notifiers, dumpers *timeline.Step, verb string, want ...timeline.Status) string {
	var parts []string
	for _, g := range []struct {
		s            *timeline.Step
		one, several string
	}{{notifiers, "notifier", "notifiers"}, {dumpers, "kmsg dumper", "kmsg dumpers"}} {
		if g.s == nil {
			continue
		}
		if len(g.s.Members) == 0 {
			if hasStatus(g.s.Status, want) {
				parts = append(parts, "the "+g.several)
			}
			continue
		}
		n := 0
		for _, m := range g.s.Members {
			if hasStatus(m.Status, want) {
				n++
			}
		}
		if n > 0 {
			parts = append(parts, countNoun(n, g.one, g.several))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return strings.Join(parts, " and ") + " " + verb
}

func hasStatus(s timeline.Status, want []timeline.Status) bool {
	for _, w := range want {
		if s == w {
			return true
		}
	}
	return false
}

func countNoun(n int, one, several string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, several)
}

// whatRan says what the notifier and kmsg dumper steps did, grouping steps
// with the same status: "notifiers and kmsg dumpers ran".
func whatRan(notifiers, dumpers *timeline.Step) string {
	verb := map[timeline.Status]string{
		timeline.Ran: "ran", timeline.Running: "were running", timeline.Skipped: "were skipped",
		timeline.NotReached: "never ran", timeline.Unknown: "may or may not have run",
	}
	var order []timeline.Status
	var empty []string // lists read and empty: nothing was called
	groups := map[timeline.Status][]string{}
	for _, g := range []struct {
		s    *timeline.Step
		name string
	}{{notifiers, "notifiers"}, {dumpers, "kmsg dumpers"}} {
		if g.s == nil {
			continue
		}
		if g.s.EmptyList {
			empty = append(empty, g.name)
			continue
		}
		st := g.s.Status
		if _, ok := verb[st]; !ok {
			st = timeline.Unknown
		}
		if groups[st] == nil {
			order = append(order, st)
		}
		groups[st] = append(groups[st], g.name)
	}
	var parts []string
	for _, st := range order {
		parts = append(parts, strings.Join(groups[st], " and ")+" "+verb[st])
	}
	if len(empty) > 0 {
		parts = append(parts, "no "+strings.Join(empty, " or ")+" registered")
	}
	return strings.Join(parts, ", ")
}

// where says which step panic() was in when the dump was taken.
func wherePanicWas(steps []timeline.Step) string {
	for _, s := range steps {
		if s.Status != timeline.Running {
			continue
		}
		switch s.Step {
		case timeline.StepEnd:
			return "the CPU spun in panic()'s final loop"
		case timeline.StepRestart:
			return "the kernel was restarting (emergency_restart)"
		case timeline.StepNotifiers, timeline.StepKmsgDump:
			what := map[timeline.StepName]string{timeline.StepNotifiers: "the panic notifiers", timeline.StepKmsgDump: "kmsg_dump()"}[s.Step]
			for _, m := range s.Members {
				if m.Status == timeline.Running {
					return "the dump was taken inside " + what + ", in " + m.Name
				}
			}
			return "the dump was taken inside " + what
		}
		return "the dump was taken in " + s.Function
	}
	last := ""
	for _, s := range steps {
		if s.Status == timeline.Ran {
			last = StepLabel(s)
		}
	}
	if last == "" {
		return "where panic() stopped is unknown"
	}
	return "panic() got at least as far as " + last
}

// StepLabel names a step with its slot: "crash_kexec (before notifiers)".
func StepLabel(s timeline.Step) string { return StepTitle(s) }

// join joins the non-empty parts.
func joinNonEmpty(sep string, parts ...string) string {
	var keep []string
	for _, p := range parts {
		if p != "" {
			keep = append(keep, p)
		}
	}
	return strings.Join(keep, sep)
}
