package views

import (
	"testing"

	tl "github.com/panicscope/panicscope/vmcore/analysis/timeline"
)

// step builds a timeline step; members are given as statuses.
func step(name tl.StepName, slot string, st tl.Status, members ...tl.Status) tl.Step {
	s := tl.Step{Step: name, Slot: slot, Status: st, Function: string(name) + "_fn"}
	for i, m := range members {
		s.Members = append(s.Members, tl.Member{Name: string(name) + "_cb" + string(rune('a'+i)), Status: m})
	}
	return s
}

func rep(st tl.Status, n int) []tl.Status {
	out := make([]tl.Status, n)
	for i := range out {
		out[i] = st
	}
	return out
}

// panicOrder is the 6.1 order of panic() with the given statuses.
func panicOrder(pre, notif tl.Status, notifM []tl.Status, kmsg tl.Status, kmsgM []tl.Status, post, end tl.Status) []tl.Step {
	return []tl.Step{
		step(tl.StepMessage, "", tl.Ran),
		step(tl.StepCrashKexec, tl.SlotBeforeNotifiers, pre),
		step(tl.StepStopCPUs, "", notif),
		step(tl.StepNotifiers, "", notif, notifM...),
		step(tl.StepKmsgDump, "", kmsg, kmsgM...),
		step(tl.StepCrashKexec, tl.SlotAfterKmsgDump, post),
		step(tl.StepConsoleFlush, "", end),
		step(tl.StepRestart, "", tl.Skipped),
		step(tl.StepEnd, "", end),
	}
}

func TestVerdict(t *testing.T) {
	R, G, S, N, U := tl.Ran, tl.Running, tl.Skipped, tl.NotReached, tl.Unknown
	endRunning := panicOrder(S, R, rep(R, 4), R, rep(R, 1), S, G)
	endRunning[6].Status = R
	inNotifier := panicOrder(S, G, []tl.Status{R, G, N}, N, rep(N, 2), N, N)
	inNotifier[2].Status = R // stop_cpus
	emptyDumpList := panicOrder(S, R, rep(R, 4), R, nil, S, G)
	emptyDumpList[6].Status = R
	emptyDumpList[4].EmptyList = true
	restarting := panicOrder(S, R, rep(R, 2), R, nil, S, N)
	restarting[7].Status = G
	cases := []struct {
		name  string
		steps []tl.Step
		want  string
	}{
		{"empty", nil, "no timeline"},
		{"kdump first", panicOrder(G, N, rep(N, 9), N, rep(N, 1), S, N),
			"kdump ran before the panic notifiers; 9 notifiers and 1 kmsg dumper never ran"},
		{"kdump first, nothing registered", panicOrder(G, N, nil, N, nil, S, N),
			"kdump ran before the panic notifiers; the notifiers and the kmsg dumpers never ran"},
		{"kdump after notifiers", panicOrder(S, R, rep(R, 4), R, rep(R, 2), G, N),
			"kdump ran after the panic notifiers and kmsg dumpers; 4 notifiers and 2 kmsg dumpers ran first"},
		{"no crash kernel", endRunning,
			"no crash kernel: notifiers and kmsg dumpers ran; the CPU spun in panic()'s final loop"},
		{"dump_list read and empty", emptyDumpList,
			"no crash kernel: notifiers ran, no kmsg dumpers registered; the CPU spun in panic()'s final loop"},
		{"stuck in a notifier", inNotifier,
			"kdump did not run: notifiers were running, kmsg dumpers never ran; the dump was taken inside the panic notifiers, in notifiers_cbb"},
		{"restart", restarting,
			"no crash kernel: notifiers and kmsg dumpers ran; the kernel was restarting (emergency_restart)"},
		{"nothing running", panicOrder(S, R, nil, U, nil, S, U),
			"no crash kernel: notifiers ran, kmsg dumpers may or may not have run; panic() got at least as far as notifiers"},
	}
	for _, c := range cases {
		if got := Verdict(c.steps); got != c.want {
			t.Errorf("%s:\n got %q\nwant %q", c.name, got, c.want)
		}
	}
}

func TestStepLabel(t *testing.T) {
	if got := StepLabel(tl.Step{Step: "crash_kexec", Slot: tl.SlotBeforeNotifiers}); got != "crash_kexec (before notifiers)" {
		t.Errorf("got %q", got)
	}
}
