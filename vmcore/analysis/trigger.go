package analysis

import (
	"strings"

	"github.com/panicscope/panicscope/vmcore/analysis/timeline"
)

// TriggerKind names what started the crash, before panic() (or instead of
// it).
type TriggerKind string

const (
	TriggerOopsKexec   TriggerKind = "oops, crash_kexec() directly" // oops_end()/die() -> crash_kexec(), no panic()
	TriggerOops        TriggerKind = "oops, panic_on_oops"          // oops_end() -> panic("Fatal exception")
	TriggerWarn        TriggerKind = "WARN, panic_on_warn"          // check_panic_on_warn()
	TriggerSysrq       TriggerKind = "sysrq-c"                      // sysrq_handle_crash()
	TriggerHardLockup  TriggerKind = "hard lockup (NMI watchdog)"   // watchdog_hardlockup_check()
	TriggerSoftLockup  TriggerKind = "soft lockup"                  // watchdog_timer_fn(), softlockup_panic
	TriggerHungTask    TriggerKind = "hung task"                    // check_hung_uninterruptible_tasks()
	TriggerRCUStall    TriggerKind = "RCU stall"                    // panic_on_rcu_stall()
	TriggerOOM         TriggerKind = "out of memory"                // out_of_memory(), panic_on_oom
	TriggerNMI         TriggerKind = "NMI"                          // nmi_panic(): unknown NMI, IOCK, SERR
	TriggerMCE         TriggerKind = "machine check"                // mce_panic()
	TriggerExplicit    TriggerKind = "panic() call"                 // any other caller of panic()
	TriggerUnknownKind TriggerKind = "unknown"
)

// Trigger is what led into the crash, with the line or frame that shows it.
type Trigger struct {
	Kind     TriggerKind `json:"kind"`
	Why      string      `json:"why"`
	Evidence string      `json:"evidence,omitempty"`
}

// triggerRules map panic() messages to their callers, first match wins
// (the strings are the callers' format strings, kernel 5.10 .. 7.3).
var triggerRules = []struct {
	prefix string
	kind   TriggerKind
	why    string
}{
	{"Fatal exception in interrupt", TriggerOops, "oops_end() called panic(): the oops happened in interrupt context"},
	{"Fatal exception", TriggerOops, "oops_end() called panic(\"Fatal exception\"): panic_on_oops (or the oops killed init or the idle task)"},
	{"kernel: panic_on_warn set", TriggerWarn, "check_panic_on_warn(): a WARN with panic_on_warn set"},
	{"panic_on_warn set", TriggerWarn, "check_panic_on_warn(): a WARN with panic_on_warn set"},
	{"sysrq triggered crash", TriggerSysrq, "sysrq_handle_crash(): echo c > /proc/sysrq-trigger or SysRq-C"},
	{"Hard LOCKUP", TriggerHardLockup, "the NMI watchdog saw a CPU not take timer interrupts (hardlockup_panic)"},
	{"Watchdog detected hard LOCKUP", TriggerHardLockup, "the NMI watchdog saw a CPU not take timer interrupts (hardlockup_panic)"},
	{"softlockup: hung tasks", TriggerSoftLockup, "the soft-lockup watchdog fired with softlockup_panic set"},
	{"hung_task: blocked tasks", TriggerHungTask, "khungtaskd found a task blocked too long with hung_task_panic set"},
	{"RCU Stall", TriggerRCUStall, "an RCU CPU stall with panic_on_rcu_stall set"},
	{"Out of memory", TriggerOOM, "out_of_memory() with panic_on_oom set, or no killable process"},
	{"System is deadlocked on memory", TriggerOOM, "out_of_memory(): no killable process left"},
	{"NMI", TriggerNMI, "nmi_panic() from an NMI handler (unknown NMI, IOCK or SERR with panic_on_unrecovered_nmi / panic_on_io_nmi)"},
	{"Machine check", TriggerMCE, "mce_panic(): an uncorrectable machine check"},
	{"Fatal machine check", TriggerMCE, "mce_panic(): an uncorrectable machine check"},
}

// classifyTrigger names what led into the crash from the panic message, the
// report line before it and how the dump was taken; the timeline's first
// step says whether panic() ran at all.
func classifyTrigger(r *Report) Trigger {
	if len(r.Timeline) > 0 && r.Timeline[0].Status == timeline.NotReached &&
		strings.HasPrefix(r.Timeline[0].Reason, "panic() was not called") {
		return Trigger{Kind: TriggerOopsKexec, Why: "oops_end()/die() called crash_kexec() itself (kexec_should_crash()): panic() did not run", Evidence: r.Panic.FirstReport}
	}
	if r.Panic.Message == nil {
		return Trigger{Kind: TriggerUnknownKind, Why: "no panic message was read", Evidence: r.Panic.FirstReport}
	}
	msg := *r.Panic.Message
	for _, rule := range triggerRules {
		if strings.HasPrefix(msg, rule.prefix) {
			return Trigger{Kind: rule.kind, Why: rule.why, Evidence: firstNonEmpty(r.Panic.FirstReport, "panic: "+msg)}
		}
	}
	return Trigger{Kind: TriggerExplicit, Why: "panic() called directly with this message (a driver, a module or a BUG path)", Evidence: "panic: " + msg}
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}
