package analysis

import (
	"strings"
	"testing"

	"github.com/panicscope/panicscope/vmcore/analysis/timeline"
	"github.com/panicscope/panicscope/vmcore/target"
)

func bp(b bool) *bool     { return &b }
func ip(v int64) *int64   { return &v }
func up(v uint64) *uint64 { return &v }
func stepKey(s PlanStep) string {
	if s.Slot != "" {
		return string(s.Step) + "/" + s.Slot
	}
	return string(s.Step)
}

// liveReport is a 6.1 (Debian 6.1.0-56) live system with two notifiers, one
// from an out-of-tree module, and one kmsg dumper.
func liveReport(post, loaded *bool, timeout *int64, pp *uint64) *Report {
	return &Report{
		Kernel:     KernelInfo{Release: ptr("6.1.0-56-amd64"), Capture: CaptureLive},
		Line:       timeline.Line61Stable,
		LineWhy:    "test",
		Parameters: Parameters{CrashKexecPostNotifiers: post, CrashKernelLoaded: loaded, PanicTimeout: timeout, PanicPrint: pp},
		Chains: []Chain{{Name: "panic_notifier_list", Entries: []ChainEntry{
			{Callback: "labpanic_notify_first", Module: "labpanic", Priority: ptr(2147483647)},
			{Callback: "dump_kernel_offset", Priority: ptr(0)},
		}, Complete: true}},
		Dumpers:         []Dumper{{Callback: "labpanic_kmsg_dump", Module: "labpanic", MaxReason: ptr(0), ReasonName: "KMSG_DUMP_UNDEF", Registered: true}},
		DumpersComplete: true,
		Modules:         []Module{{Name: "labpanic", Taints: "OE"}},
	}
}

func actions(p PlanResult) map[string]PlanAction {
	m := map[string]PlanAction{}
	for _, s := range p.Steps {
		m[stepKey(s)] = s.Action
	}
	return m
}

func warning(p PlanResult, code string) *PlanWarning {
	for i := range p.Warnings {
		if p.Warnings[i].Code == code {
			return &p.Warnings[i]
		}
	}
	return nil
}

func wantActions(t *testing.T, p PlanResult, want map[string]PlanAction) {
	t.Helper()
	got := actions(p)
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %s, want %s", k, got[k], v)
		}
	}
}

func TestPlanKdumpAfterNotifiers(t *testing.T) {
	p := Plan(liveReport(bp(true), bp(true), ip(0), up(0)))
	if p.Basis != PlanBasisLive || p.Model != timeline.Line61Stable {
		t.Fatalf("basis %q model %q", p.Basis, p.Model)
	}
	var order []string
	for i, s := range p.Steps {
		if s.Order != i+1 {
			t.Errorf("step %d has order %d", i, s.Order)
		}
		order = append(order, stepKey(s))
	}
	wantOrder := "message crash_kexec/before_notifiers stop_cpus notifiers panic_print/sys_info kmsg_dump crash_kexec/after_kmsg_dump console_flush panic_print/console_replay restart end"
	if strings.Join(order, " ") != wantOrder {
		t.Errorf("order:\n got %s\nwant %s", strings.Join(order, " "), wantOrder)
	}
	wantActions(t, p, map[string]PlanAction{
		"message": PlanRuns, "crash_kexec/before_notifiers": PlanSkipped, "stop_cpus": PlanRuns,
		"notifiers": PlanRuns, "panic_print/sys_info": PlanSkipped, "kmsg_dump": PlanRuns,
		"crash_kexec/after_kmsg_dump": PlanRuns, "console_flush": PlanNotReached, "restart": PlanNotReached, "end": PlanNotReached,
	})
	for _, s := range p.Steps {
		if s.Step == timeline.StepStopCPUs && !strings.Contains(s.Function, "crash_smp_send_stop") {
			t.Errorf("stop_cpus with post notifiers: %q", s.Function)
		}
		if s.Step == timeline.StepNotifiers || s.Step == timeline.StepKmsgDump {
			if len(s.Members) == 0 {
				t.Errorf("%s: no members", s.Step)
			}
			for _, m := range s.Members {
				if !m.BeforeKdump || m.Action != PlanRuns {
					t.Errorf("%s member %s: before_kdump %v action %s", s.Step, m.Name, m.BeforeKdump, m.Action)
				}
			}
		}
		if s.Step == timeline.StepKmsgDump && !strings.Contains(s.Members[0].Why, "default KMSG_DUMP_OOPS") {
			t.Errorf("max_reason 0 reason: %q", s.Members[0].Why)
		}
	}
	w := warning(p, WarnPostNotifiersBeforeKdump)
	if w == nil || !strings.Contains(w.Text, "kdump loaded but crash_kexec_post_notifiers=Y: 2 notifiers and 1 kmsg dumper run before the crash kernel") {
		t.Errorf("post-notifier warning: %+v", p.Warnings)
	}
	if w := warning(p, WarnModuleNotifierFirst); w == nil || !strings.Contains(w.Text, "labpanic_notify_first from module labpanic (taint OE: out-of-tree, unsigned)") {
		t.Errorf("module warning: %+v", p.Warnings)
	}
	if w := warning(p, WarnPanicTimeoutZero); w == nil || !strings.Contains(w.Text, "if the crash kernel does not start") {
		t.Errorf("panic_timeout warning: %+v", p.Warnings)
	}
	if warning(p, WarnNoCrashKernel) != nil || warning(p, WarnPanicPrint) != nil {
		t.Errorf("unexpected warnings: %+v", p.Warnings)
	}
	if !strings.HasPrefix(p.Summary, "if this machine panicked now: message → stop_cpus → notifiers → kmsg_dump → kdump") {
		t.Errorf("summary %q", p.Summary)
	}
}

func TestPlanKdumpFirst(t *testing.T) {
	p := Plan(liveReport(bp(false), bp(true), ip(10), up(0x1)))
	wantActions(t, p, map[string]PlanAction{
		"message": PlanRuns, "crash_kexec/before_notifiers": PlanRuns, "stop_cpus": PlanNotReached,
		"notifiers": PlanNotReached, "kmsg_dump": PlanNotReached, "restart": PlanNotReached,
	})
	if warning(p, WarnPostNotifiersBeforeKdump) != nil || warning(p, WarnModuleNotifierFirst) != nil {
		t.Errorf("kdump first, yet warned about notifiers before kdump: %+v", p.Warnings)
	}
	if w := warning(p, WarnDumpersSkippedByKdump); w == nil || !strings.Contains(w.Text, "1 kmsg dumper (labpanic_kmsg_dump [labpanic]) does not run") {
		t.Errorf("dumpers warning: %+v", p.Warnings)
	}
	if w := warning(p, WarnPanicPrint); w == nil || !strings.Contains(w.Text, "crash kernel starts before it is acted on") {
		t.Errorf("panic_print warning: %+v", p.Warnings)
	}
	for _, s := range p.Steps {
		if s.Step == timeline.StepNotifiers {
			for _, m := range s.Members {
				if m.BeforeKdump || m.Action != PlanNotReached {
					t.Errorf("member %s: %+v", m.Name, m)
				}
			}
		}
	}
}

func TestPlanNoCrashKernel(t *testing.T) {
	p := Plan(liveReport(bp(true), bp(false), ip(10), up(0)))
	wantActions(t, p, map[string]PlanAction{
		"crash_kexec/before_notifiers": PlanSkipped, "notifiers": PlanRuns, "kmsg_dump": PlanRuns,
		"crash_kexec/after_kmsg_dump": PlanSkipped, "console_flush": PlanRuns, "restart": PlanRuns, "end": PlanNotReached,
	})
	w := warning(p, WarnNoCrashKernel)
	if w == nil || !strings.HasPrefix(w.Text, "no crash kernel loaded (kexec_crash_image=NULL): a vmcore will not be captured") ||
		!strings.Contains(w.Text, "crash_kexec_post_notifiers=Y has no effect") {
		t.Errorf("no-crash-kernel warning: %+v", p.Warnings)
	}
	if warning(p, WarnPostNotifiersBeforeKdump) != nil || warning(p, WarnPanicTimeoutZero) != nil || warning(p, WarnModuleNotifierFirst) != nil {
		t.Errorf("unexpected warnings: %+v", p.Warnings)
	}
	for _, s := range p.Steps {
		if s.Step == timeline.StepRestart && !strings.Contains(s.Why, "panic_timeout=10") {
			t.Errorf("restart why: %q", s.Why)
		}
		for _, m := range s.Members {
			if m.BeforeKdump {
				t.Errorf("member %s before kdump without a crash kernel", m.Name)
			}
		}
	}
}

func TestPlanPanicTimeout(t *testing.T) {
	for _, c := range []struct {
		timeout      int64
		restart, end PlanAction
		warn         bool
	}{
		{0, PlanSkipped, PlanRuns, true},
		{10, PlanRuns, PlanNotReached, false},
		{-1, PlanRuns, PlanNotReached, false},
	} {
		p := Plan(liveReport(bp(false), bp(false), ip(c.timeout), up(0)))
		wantActions(t, p, map[string]PlanAction{"restart": c.restart, "end": c.end})
		w := warning(p, WarnPanicTimeoutZero)
		if (w != nil) != c.warn {
			t.Errorf("timeout %d: warning %+v", c.timeout, w)
		}
		if w != nil && w.Text != "panic_timeout=0: the machine will hang instead of rebooting" {
			t.Errorf("timeout warning text %q", w.Text)
		}
	}
}

func TestPlanPstore(t *testing.T) {
	pstoreDumper := func(mr int, reg bool) Dumper {
		return Dumper{Callback: "pstore_dump", MaxReason: &mr, Registered: reg}
	}
	cases := []struct {
		name    string
		flags   uint64
		dumpers []Dumper
		warn    string
	}{
		{"max_reason 0 is the default OOPS, which includes PANIC", 1, []Dumper{pstoreDumper(0, true)}, ""},
		{"max_reason PANIC", 1, []Dumper{pstoreDumper(1, true)}, ""},
		{"max_reason OOPS", 1, []Dumper{pstoreDumper(2, true)}, ""},
		{"no dmesg front-end", 0x10, []Dumper{}, "without the dmesg front-end"},
		{"no pstore_dump on dump_list", 1, []Dumper{}, "pstore_dump is not on dump_list"},
		{"unregistered", 1, []Dumper{pstoreDumper(2, false)}, "not registered"},
	}
	for _, c := range cases {
		r := liveReport(bp(false), bp(false), ip(0), up(0))
		r.Pstore = &Pstore{Backend: ptr("ramoops"), Flags: &c.flags}
		r.Dumpers = c.dumpers
		p := Plan(r)
		w := warning(p, WarnPstoreNoPanic)
		switch {
		case c.warn == "" && w != nil:
			t.Errorf("%s: unexpected warning %q", c.name, w.Text)
		case c.warn != "" && (w == nil || !strings.Contains(w.Text, c.warn)):
			t.Errorf("%s: warning %+v, want %q", c.name, w, c.warn)
		}
	}
	// A dumper whose max_reason excludes panics is skipped, with the reason.
	m := dumperMember(Dumper{Callback: "x", Registered: true}, PlanStep{Action: PlanRuns}, nil, false)
	if m.Action != PlanDepends {
		t.Errorf("unknown max_reason: %+v", m)
	}
}

func TestPlanPanicPrint(t *testing.T) {
	p := Plan(liveReport(bp(false), bp(false), ip(0), up(0x21)))
	wantActions(t, p, map[string]PlanAction{"panic_print/sys_info": PlanRuns, "panic_print/console_replay": PlanRuns})
	if w := warning(p, WarnPanicPrint); w == nil || !strings.Contains(w.Text, "panic_print=0x21 set: extra output (show_state(), console replay") {
		t.Errorf("panic_print warning: %+v", p.Warnings)
	}
	p = Plan(liveReport(bp(true), bp(true), ip(0), up(0x1)))
	if w := warning(p, WarnPanicPrint); w == nil || !strings.Contains(w.Text, "before kdump, after the notifiers") {
		t.Errorf("panic_print with post notifiers: %+v", p.Warnings)
	}
}

func TestPlanUnknownParameters(t *testing.T) {
	r := liveReport(nil, nil, nil, nil)
	r.Chains = nil
	p := Plan(r)
	wantActions(t, p, map[string]PlanAction{
		"crash_kexec/before_notifiers": PlanDepends, "notifiers": PlanDepends, "restart": PlanDepends,
		"message": PlanRuns, "panic_print/sys_info": PlanDepends,
	})
	if warning(p, WarnCrashKernelUnknown) == nil {
		t.Errorf("warnings: %+v", p.Warnings)
	}
	// A crash kernel of unknown state before: later steps depend on it.
	p = Plan(liveReport(bp(false), nil, ip(10), up(0)))
	wantActions(t, p, map[string]PlanAction{"crash_kexec/before_notifiers": PlanDepends, "notifiers": PlanDepends, "restart": PlanDepends})
}

func TestPlanConfiguredNextToActual(t *testing.T) {
	r := liveReport(bp(false), bp(false), ip(0), up(0))
	r.Kernel.Capture = CaptureHypervisor
	r.Timeline = []timeline.Step{
		{Step: timeline.StepMessage, Status: timeline.Ran, Reason: "log"},
		{Step: timeline.StepCrashKexec, Slot: timeline.SlotBeforeNotifiers, Status: timeline.Skipped, Reason: "no image"},
		{Step: timeline.StepEnd, Status: timeline.Running, Reason: "loop"},
	}
	p := Plan(r)
	if p.Basis != PlanBasisConfigured || !strings.HasPrefix(p.Summary, "as configured in the dump: ") {
		t.Fatalf("basis %q summary %q", p.Basis, p.Summary)
	}
	got := map[string]timeline.Status{}
	for _, s := range p.Steps {
		got[stepKey(s)] = s.Actual
	}
	if got["message"] != "ran" || got["crash_kexec/before_notifiers"] != "skipped" || got["end"] != "running" || got["notifiers"] != "" {
		t.Errorf("actual: %v", got)
	}
}

func TestLiveChecks(t *testing.T) {
	r := liveReport(bp(true), bp(false), ip(10), up(0))
	r.Panic.Taint, r.Panic.TaintMask = ptr("Not tainted"), up(0)
	s := &target.LiveState{Values: []target.LiveValue{
		{Name: "panic", Path: "/proc/sys/kernel/panic", Value: "10"},
		{Name: "panic_print", Path: "/proc/sys/kernel/panic_print", Value: "0"},
		{Name: "crash_kexec_post_notifiers", Path: "/sys/module/kernel/parameters/crash_kexec_post_notifiers", Value: "Y"},
		{Name: "kexec_crash_loaded", Path: "/sys/kernel/kexec_crash_loaded", Value: "1"},
		{Name: "tainted", Path: "/proc/sys/kernel/tainted", Err: "cannot read"},
	}}
	cs := liveChecks(s, r)
	agree := map[string]bool{}
	for _, c := range cs {
		agree[c.Name] = c.Agree
	}
	want := map[string]bool{"panic_timeout": true, "panic_print": true, "crash_kexec_post_notifiers": true, "crash_kernel_loaded": false}
	if len(agree) != len(want) {
		t.Errorf("checks: %+v", cs)
	}
	for k, v := range want {
		if a, ok := agree[k]; !ok || a != v {
			t.Errorf("%s: agree %v (present %v), want %v", k, a, ok, v)
		}
	}
}
