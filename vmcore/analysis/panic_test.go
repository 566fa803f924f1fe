package analysis

import (
	"strings"
	"testing"

	"github.com/panicscope/panicscope/vmcore/analysis/timeline"
	"github.com/panicscope/panicscope/vmcore/finding"
	"github.com/panicscope/panicscope/vmcore/printk"
)

// TestPanicFromEndLineOnly: the message record was lost (here: a run of
// unreadable records before it), only panic()'s closing line survives. The
// report's message is printk's, it says where it came from and why, and the
// timeline gets the lines panic() printed before the end line.
func TestPanicFromEndLineOnly(t *testing.T) {
	log := &printk.Log{FirstSeq: 1, NextSeq: 9, Records: []printk.Record{
		{Seq: 1, Text: "BUG: kernel NULL pointer dereference, address: 0000000000000000"},
		{Seq: 6, TimestampNS: 5e9, Text: "labpanic: notifier prio=INT_MAX ran first"},
		{Seq: 7, TimestampNS: 5e9, Text: "---[ end Kernel panic - not syncing: boom ]---"},
		{Seq: 8, TimestampNS: 6e9, Text: "after"},
	}, Gaps: []printk.Gap{{FirstSeq: 2, LastSeq: 5, Reason: "page excluded"}}}
	r := &Report{Kernel: KernelInfo{Capture: CaptureHypervisor}}
	panicFromLog(r, log)
	if r.Panic.Message == nil || *r.Panic.Message != "boom" || r.Panic.MessageFrom != FromEndLine || *r.Panic.Seq != 7 {
		t.Fatalf("panic %+v", r.Panic)
	}
	if r.Panic.FirstReport != "BUG: kernel NULL pointer dereference, address: 0000000000000000" {
		t.Errorf("first report %q", r.Panic.FirstReport)
	}
	if ps := r.Problems.About(finding.AreaPanic); len(ps) != 1 || !strings.Contains(ps[0].Message(), "closing line") {
		t.Errorf("panic problems %v", ps)
	}
	if ps := r.Problems.About(finding.AreaLog); len(ps) != 1 || ps[0].Kind != finding.Unreadable {
		t.Errorf("log problems %v", ps)
	}
	floor, lines := panicWindow(log, r.Panic)
	if floor != nil || len(lines) != 3 || lines[0].Seq != 6 {
		t.Fatalf("window: floor %v, lines %+v; want the readable run from seq 6", floor, lines)
	}
	_, steps := timeline.Build(timeline.Inputs{Release: "6.1.0-56-amd64", Capture: CaptureHypervisor,
		PanicMessage: *r.Panic.Message, PanicSeq: floor, Log: lines,
		Notifiers: []timeline.Member{{Name: "labpanic_notify_first", Module: "labpanic"}}})
	for _, s := range steps {
		switch s.Step {
		case timeline.StepMessage:
			if s.Status != timeline.Ran || len(s.Evidence) == 0 || !strings.HasPrefix(s.Evidence[0].Text, "---[ end Kernel panic") {
				t.Errorf("message step %+v", s)
			}
		case timeline.StepNotifiers:
			if len(s.Members) != 1 || len(s.Members[0].Evidence) != 1 {
				t.Errorf("the notifier's line before the end line is its evidence: %+v", s.Members)
			}
		}
	}
}

// TestNoPanicMessage: a log without panic()'s lines leaves the message nil
// with a problem, except on a live system, where there is no panic.
func TestNoPanicMessage(t *testing.T) {
	log := &printk.Log{Records: []printk.Record{{Seq: 1, Text: "hello"}}}
	r := &Report{Kernel: KernelInfo{Capture: CaptureKdump}}
	panicFromLog(r, log)
	if r.Panic.Message != nil || r.Panic.Seq != nil || len(r.Problems.About(finding.AreaPanic)) != 1 || r.Log == nil {
		t.Errorf("kdump: %+v %v %+v", r.Panic, r.Problems, r.Log)
	}
	live := &Report{Kernel: KernelInfo{Capture: CaptureLive}}
	panicFromLog(live, log)
	if live.Panic.Message != nil || len(live.Problems) != 0 {
		t.Errorf("live: %+v %v", live.Panic, live.Problems)
	}
}

// TestDumpersNotReadAreNotEmpty: a dump_list that was not read gives the
// timeline and the plan "not read", not "empty".
func TestDumpersNotReadAreNotEmpty(t *testing.T) {
	r := &Report{Kernel: KernelInfo{Capture: CaptureLive}, Dumpers: []Dumper{}}
	if m := r.dumperMembers(); m != nil {
		t.Errorf("unread dump_list: %v", m)
	}
	p := Plan(r)
	for _, s := range p.Steps {
		if s.Step == timeline.StepKmsgDump && (s.Action != PlanDepends || !strings.Contains(s.Why, "not read")) {
			t.Errorf("kmsg_dump with dump_list unread: %s %q", s.Action, s.Why)
		}
	}
	r.DumpersComplete = true
	if m := r.dumperMembers(); m == nil || len(m) != 0 {
		t.Errorf("empty dump_list: %v", m)
	}
}

// TestPlanPartialNotifierChain: a chain walk that stopped early is not
// presented as the whole chain.
func TestPlanPartialNotifierChain(t *testing.T) {
	r := liveReport(bp(false), bp(false), ip(0), up(0))
	r.Chains[0].Complete, r.Chains[0].Broken = false, "list 0xffff broken after 2 nodes: cycle"
	for _, s := range Plan(r).Steps {
		if s.Step == timeline.StepNotifiers && !strings.Contains(s.Why, "read only in part: list 0xffff broken") {
			t.Errorf("notifiers: %q", s.Why)
		}
	}
}
