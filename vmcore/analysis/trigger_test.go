package analysis

import (
	"testing"

	"github.com/panicscope/panicscope/vmcore"
	"github.com/panicscope/panicscope/vmcore/analysis/timeline"
)

func TestClassifyTrigger(t *testing.T) {
	for msg, want := range map[string]TriggerKind{
		"Fatal exception":                                   TriggerOops,
		"Fatal exception in interrupt":                      TriggerOops,
		"kernel: panic_on_warn set ...":                     TriggerWarn,
		"sysrq triggered crash":                             TriggerSysrq,
		"Hard LOCKUP":                                       TriggerHardLockup,
		"Watchdog detected hard LOCKUP on cpu 3":            TriggerHardLockup,
		"softlockup: hung tasks":                            TriggerSoftLockup,
		"hung_task: blocked tasks":                          TriggerHungTask,
		"RCU Stall\n":                                       TriggerRCUStall,
		"Out of memory: compulsory panic_on_oom is enabled": TriggerOOM,
		"System is deadlocked on memory":                    TriggerOOM,
		"NMI IOCK error: Not continuing":                    TriggerNMI,
		"labpanic: Out of memory in my module":              TriggerExplicit, // a prefix, not anywhere in the text
	} {
		m := msg
		r := &Report{Panic: PanicInfo{Message: &m}}
		if got := classifyTrigger(r).Kind; got != want {
			t.Errorf("%q: %s, want %s", msg, got, want)
		}
	}
	r := &Report{Timeline: []timeline.Step{{Status: timeline.NotReached, Reason: "panic() was not called: oops_end()/die() called crash_kexec() directly"}},
		Panic: PanicInfo{FirstReport: "Oops: 0002 [#1] SMP NOPTI"}}
	if tr := classifyTrigger(r); tr.Kind != TriggerOopsKexec || tr.Evidence != "Oops: 0002 [#1] SMP NOPTI" {
		t.Errorf("oops -> crash_kexec: %+v", tr)
	}
	if tr := classifyTrigger(&Report{}); tr.Kind != TriggerUnknownKind {
		t.Errorf("no message: %+v", tr)
	}
}

func TestLostRaceRole(t *testing.T) {
	pc := 1
	r := &Report{Panic: PanicInfo{CPU: &pc}}
	role, why := cpuRole(r, 0, vmcore.CPU{}, "stop_this_cpu", []string{"stop_this_cpu", "smp_stop_nmi_callback", "panic_smp_self_stop", "vpanic", "panic"}, "", false)
	if role != RoleLostRace {
		t.Errorf("a CPU parked in panic_smp_self_stop: %s (%s)", role, why)
	}
}
