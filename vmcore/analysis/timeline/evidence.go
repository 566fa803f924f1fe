package timeline

import (
	"fmt"
	"strings"
)

// Characteristic log lines (prefixes of the record text); the panic message
// and end lines are printk.ParsePanicLine's.
const (
	rebootPrefix = "Rebooting in "               // kernel/panic.c panic(), panic_timeout > 0
	nmiStopLine  = "Shutting down cpus with NMI" // arch/x86/kernel/smp.c native_stop_other_cpus()
)

// memberLines are log lines known to be printed by a panic notifier or a
// kmsg dumper: the kernel's own and those of the fixture lab's labpanic module.
var memberLines = map[string][]string{
	// arch/x86/kernel/setup.c dump_kernel_offset(): "Kernel Offset: 0x… from 0x…" or "Kernel Offset: disabled"
	"dump_kernel_offset":    {"Kernel Offset: "},
	"labpanic_notify_first": {"labpanic: notifier prio=INT_MAX ran first"},
	"labpanic_notify_loud":  {"labpanic: notifier prio=10 saw panic: "},
	"labpanic_kmsg_dump":    {"labpanic: kmsg_dump callback reason=Panic"},
}

func logEvidence(l LogLine) Evidence {
	return Evidence{Kind: EvLog, Text: l.Text, Seq: u64(l.Seq), TimestampNS: u64(l.TimestampNS)}
}

// cpuClass is what a function on the panicking CPU's stack says about where
// panic() is.
type cpuClass int

const (
	cNone cpuClass = iota
	cMessage
	cCrash
	cStop
	cNotifiers
	cPrint
	cKmsg
	cConsole
	cRestart
	cLoop
)

// calleeClass maps functions called (directly or through inlined helpers) by
// panic() to the step they belong to.
var calleeClass = map[string]cpuClass{
	"dump_stack": cMessage, "dump_stack_lvl": cMessage, "kgdb_panic": cMessage,

	"__crash_kexec": cCrash, "crash_kexec": cCrash, "machine_crash_shutdown": cCrash,
	"native_machine_crash_shutdown": cCrash, "machine_kexec": cCrash, "crash_save_vmcoreinfo": cCrash,
	"relocate_kernel": cCrash,

	"smp_send_stop": cStop, "crash_smp_send_stop": cStop, "panic_other_cpus_shutdown": cStop,
	"native_stop_other_cpus": cStop, "kdump_nmi_shootdown_cpus": cStop, "nmi_shootdown_cpus": cStop,
	"trigger_all_cpu_backtrace": cStop, "arch_trigger_cpumask_backtrace": cStop,
	"nmi_trigger_cpumask_backtrace": cStop, "printk_legacy_allow_panic_sync": cStop,
	"panic_trigger_all_cpu_backtrace": cStop,

	"atomic_notifier_call_chain": cNotifiers, "notifier_call_chain": cNotifiers,

	"panic_print_sys_info": cPrint, "sys_info": cPrint, "__sys_info": cPrint, "show_state": cPrint,
	"show_state_filter": cPrint, "show_mem": cPrint, "__show_mem": cPrint,
	"sysrq_timer_list_show": cPrint, "debug_show_all_locks": cPrint, "ftrace_dump": cPrint,

	"kmsg_dump": cKmsg, "kmsg_dump_desc": cKmsg, "printk_safe_flush_on_panic": cKmsg,

	"console_unblank": cConsole, "unblank_screen": cConsole, "debug_locks_off": cConsole,
	"console_flush_on_panic": cConsole, "nbcon_atomic_flush_unsafe": cConsole,

	"emergency_restart": cRestart, "machine_emergency_restart": cRestart,
	"native_machine_emergency_restart": cRestart,

	"mdelay": cLoop, "__const_udelay": cLoop, "__udelay": cLoop, "delay_tsc": cLoop,
	"delay_halt": cLoop, "delay_halt_tpause": cLoop, "delay_loop": cLoop, "touch_nmi_watchdog": cLoop,
	"touch_softlockup_watchdog": cLoop, "panic_blink": cLoop, "no_blink": cLoop,
	"native_halt": cLoop, "halt": cLoop, "cpu_halt_after_panic": cLoop,
}

// normSym reduces "panic+0x118/0x2f4", "labpanic_trigger.cold [labpanic]" or
// "? foo" to the bare function name.
func normSym(s string) string {
	s = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(s), "? "))
	if i := strings.IndexAny(s, "+ \t"); i >= 0 {
		s = s[:i]
	}
	if i := strings.IndexByte(s, '.'); i > 0 {
		s = s[:i]
	}
	return s
}

// chain is the CPU's IP symbol followed by its frames, innermost first,
// normalized, without repeats of the IP.
func chain(c CPUEvidence) []string {
	var out []string
	if s := normSym(c.IPSymbol); s != "" {
		out = append(out, s)
	}
	for _, f := range c.Frames {
		s := normSym(f)
		if s == "" || (len(out) > 0 && out[len(out)-1] == s) {
			continue
		}
		out = append(out, s)
	}
	return out
}

func cpuText(c CPUEvidence) string {
	ch := chain(c)
	who := fmt.Sprintf("cpu %d", c.CPU)
	if c.Panicking {
		who += " (panicking)"
	}
	if len(ch) == 0 {
		return who + ": no IP"
	}
	return who + ": " + strings.Join(ch, " < ")
}

func cpuEvidence(c CPUEvidence, what string) Evidence {
	t := cpuText(c)
	if what != "" {
		t += " — " + what
	}
	return Evidence{Kind: EvCPU, Text: t}
}

// cpuPosition says where the panicking CPU is in panic(): the class of the
// outermost known function below panic()/vpanic() and the chain below it.
func cpuPosition(c CPUEvidence) (cpuClass, []string) {
	ch := chain(c)
	if len(ch) == 0 {
		return cNone, nil
	}
	p := len(ch)
	for i, s := range ch {
		if s == "panic" || s == "vpanic" {
			p = i
			break
		}
	}
	if p == 0 {
		return cLoop, nil // the IP is in panic() itself: its delay loops
	}
	for j := p - 1; j >= 0; j-- {
		if k, ok := calleeClass[ch[j]]; ok {
			return k, ch[:p]
		}
	}
	return cNone, ch[:p]
}

// otherCPUState classifies a non-panicking CPU.
func otherCPUState(c CPUEvidence) (state string, nmi bool) {
	ch := chain(c)
	has := func(names ...string) bool {
		for _, s := range ch {
			for _, n := range names {
				if s == n {
					return true
				}
			}
		}
		return false
	}
	switch {
	case has("crash_nmi_callback", "kdump_nmi_callback"):
		return "stopped by the crash NMI shootdown (crash_smp_send_stop → nmi_shootdown_cpus, crash_nmi_callback)", true
	case has("ipi_cpu_crash_stop") || has("crash_save_cpu") && has("ipi_handler", "do_handle_IPI"):
		// arch/arm64/kernel/smp.c: crash_smp_send_stop() sends
		// IPI_CPU_CRASH_STOP; do_handle_IPI() -> ipi_cpu_crash_stop()
		// (inlined into ipi_handler() in Debian's 6.12) saves the
		// registers with crash_save_cpu() and parks.
		return "stopped by the crash-stop IPI (crash_smp_send_stop → IPI_CPU_CRASH_STOP, ipi_cpu_crash_stop)", true
	case has("stop_this_cpu", "smp_stop_nmi_callback", "smp_reboot_interrupt", "sysvec_reboot"):
		return "stopped by smp_send_stop() (stop_this_cpu)", false
	case has("local_cpu_stop", "cpu_park_loop"):
		// arch/arm64/kernel/smp.c: smp_send_stop() sends IPI_CPU_STOP.
		return "stopped by smp_send_stop() (IPI_CPU_STOP, local_cpu_stop)", false
	case has("panic_smp_self_stop", "nmi_panic_self_stop"):
		return "entered panic() too and stopped itself (panic_smp_self_stop)", false
	case len(ch) > 0 && (ch[0] == "native_halt" || ch[0] == "halt"):
		return "halted (native_halt)", false
	}
	return "", false
}
