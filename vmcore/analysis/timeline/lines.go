package timeline

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Kernel lines with a panic() model.
const (
	Line510      = "5.10"       // Debian 5.10.223 (5.10.0-32)
	Line61       = "6.1"        // 6.1.0 … 6.1.15 as released
	Line61Stable = "6.1-stable" // 6.1.16+ (panic_other_cpus_shutdown backport), e.g. Debian 6.1.192 (6.1.0-56)
	Line612      = "6.12"       // Debian 6.12.117
	Line619      = "6.19"       // vpanic(), sys_info()
	Line73       = "7.3"        // Debian 7.3.4: + panic_try_force_cpu() (panic_force_cpu=)
	LineUnknown  = "unknown"
)

// debian61StableABI is the first Debian bookworm ABI ("6.1.0-N") built from
// 6.1.16 or later: 6.1.20-1 bumped the ABI to 7 and carries ChangeLog-6.1.16's
// "panic: fix the panic_print NMI backtrace setting" (mainline b905039e428d,
// v6.3-rc1), which added panic_other_cpus_shutdown(). 6.1.15-1 was ABI 6.
const debian61StableABI = 7

// stable61Sublevel is the first 6.1.y with panic_other_cpus_shutdown().
const stable61Sublevel = 16

var releaseRE = regexp.MustCompile(`^(\d+)\.(\d+)(?:\.(\d+))?(.*)$`)
var debianABIRE = regexp.MustCompile(`^-(\d+)-[a-z]`)

type version struct {
	major, minor, patch int
	hasPatch            bool
	rest                string
}

func parseRelease(r string) (version, bool) {
	m := releaseRE.FindStringSubmatch(r)
	if m == nil {
		return version{}, false
	}
	v := version{rest: m[4]}
	var err error
	if v.major, err = strconv.Atoi(m[1]); err != nil {
		return version{}, false
	}
	if v.minor, err = strconv.Atoi(m[2]); err != nil {
		return version{}, false
	}
	if m[3] != "" {
		if v.patch, err = strconv.Atoi(m[3]); err != nil {
			return version{}, false
		}
		v.hasPatch = true
	}
	return v, true
}

func (v version) less(major, minor int) bool {
	return v.major < major || (v.major == major && v.minor < minor)
}

// newestLine is the newest kernel line with a model: a newer release is
// read with it, and Line says so and which of its assumptions held.
var newestLine = version{major: 7, minor: 3}

// assumption is a symbol a model relies on: present (or, with absent, not
// in the symbol table) in the kernels it was read from.
type assumption struct {
	symbol string
	absent bool
	means  string
}

// assumptions are what the 7.3 model takes from Debian 7.3.4's
// kernel/panic.c and checks in the dump's symbols. Static functions may be
// inlined: the global panic_redirect_cpu is the reliable mark of
// panic_force_cpu=.
var assumptions73 = []assumption{
	{symbol: "vpanic", means: "the body is vpanic()"},
	{symbol: "panic_redirect_cpu", means: "panic_try_force_cpu() may hand the panic to the panic_force_cpu= CPU"},
	{symbol: "sys_info", means: "panic_print acted on by sys_info()"},
	{symbol: "kmsg_dump_desc", means: "kmsg_dump_desc(KMSG_DUMP_PANIC, buf)"},
	{symbol: "printk_legacy_allow_panic_sync", means: "legacy consoles print synchronously once the CPUs are stopped"},
	{symbol: "nbcon_atomic_flush_unsafe", means: "nbcon consoles flushed after the end line"},
	{symbol: "panic_print_sys_info", absent: true, means: "no panic_print_sys_info() (6.18 and older)"},
}

// checkAssumptions says which of a model's assumptions the symbols confirm
// and which they contradict; "not checked" without a symbol table.
func checkAssumptions(as []assumption, hasSymbol func(string) bool) (summary string, contradicted int) {
	if hasSymbol == nil {
		return "assumptions not checked (no symbol table)", 0
	}
	var held, broken []string
	for _, a := range as {
		present := hasSymbol(a.symbol)
		state := map[bool]string{true: a.symbol + " present", false: a.symbol + " absent"}[present]
		if present != a.absent {
			held = append(held, state)
		} else {
			broken = append(broken, state+" (the model assumes "+a.means+")")
		}
	}
	summary = "checked: " + strings.Join(held, ", ")
	if len(held) == 0 {
		summary = "checked: none held"
	}
	if len(broken) > 0 {
		summary += "; contradicted: " + strings.Join(broken, ", ")
	}
	return summary, len(broken)
}

// line73 is the 7.3 model for a release at or past 7.3, or one that has
// panic_redirect_cpu.
func line73(v version, parsed bool, hasSymbol func(string) bool) (string, string) {
	checked, _ := checkAssumptions(assumptions73, hasSymbol)
	const src = "Debian 7.3.4 kernel/panic.c vpanic()"
	vs := fmt.Sprintf("%d.%d", v.major, v.minor)
	switch {
	case !parsed:
		return Line73, "release not parsed; panic_redirect_cpu present: the 7.3 model (" + src + "); " + checked
	case v.major == newestLine.major && v.minor == newestLine.minor:
		// The model's own line: only a contradiction is worth a word.
		why := "release 7.3 (" + src + ")"
		if _, broken := checkAssumptions(assumptions73, hasSymbol); broken > 0 {
			why += "; " + checked
		}
		return Line73, why
	case newestLine.less(v.major, v.minor):
		return Line73, vs + " is newer than every model: the 7.3 model (" + src + ") is used; " + checked
	}
	return Line73, vs + " with panic_redirect_cpu: approximated by the 7.3 model (" + src + "); " + checked
}

// Line picks the panic() model for a kernel release, confirmed by symbols
// (hasSymbol may be nil). why says how the choice was made.
func Line(release string, hasSymbol func(string) bool) (line string, why string) {
	has := func(s string) bool { return hasSymbol != nil && hasSymbol(s) }
	v, ok := parseRelease(release)
	if !ok {
		switch {
		case has("panic_redirect_cpu"):
			return line73(v, false, hasSymbol)
		case has("vpanic"):
			return Line619, fmt.Sprintf("release %q not parsed; vpanic present", release)
		case has("kmsg_dump_desc"):
			return Line612, fmt.Sprintf("release %q not parsed; kmsg_dump_desc present", release)
		case has("panic_other_cpus_shutdown"):
			return Line61Stable, fmt.Sprintf("release %q not parsed; panic_other_cpus_shutdown present", release)
		case has("printk_safe_flush_on_panic"):
			return Line510, fmt.Sprintf("release %q not parsed; printk_safe_flush_on_panic present (gone in 6.1)", release)
		}
		return LineUnknown, fmt.Sprintf("release %q not parsed and no distinguishing symbol", release)
	}
	vs := fmt.Sprintf("%d.%d", v.major, v.minor)
	switch {
	case v.less(5, 10):
		return Line510, vs + " is older than 5.10: approximated by the 5.10 model"
	case v.major == 5 && v.minor == 10:
		return Line510, "release 5.10"
	case v.less(5, 18):
		return Line510, vs + ": approximated by the 5.10 model (panic_print_sys_info() after the console flush)"
	case v.less(6, 1):
		return Line61, vs + ": approximated by the 6.1 model"
	case v.major == 6 && v.minor == 1:
		return line61(v, has)
	case v.major == 6 && v.minor == 2:
		if has("panic_other_cpus_shutdown") {
			return Line61Stable, "6.2 with panic_other_cpus_shutdown: approximated by the 6.1-stable model"
		}
		return Line61, "6.2: approximated by the 6.1 model (panic_other_cpus_shutdown came in v6.3-rc1)"
	case v.less(6, 12):
		return Line61Stable, vs + ": approximated by the 6.1-stable model"
	case !v.less(newestLine.major, newestLine.minor), has("panic_redirect_cpu"):
		return line73(v, true, hasSymbol)
	case v.less(6, 19):
		if has("vpanic") && has("sys_info") {
			return Line619, vs + " with vpanic and sys_info: approximated by the 6.19 model"
		}
		why = "release " + vs
		if v.minor != 12 {
			why = vs + ": approximated by the 6.12 model"
		}
		if hasSymbol != nil && !has("kmsg_dump_desc") {
			why += " (kmsg_dump_desc not found)"
		}
		return Line612, why
	}
	why = "release " + vs
	if v.major != 6 || v.minor != 19 {
		why = vs + ": approximated by the 6.19 model"
	}
	if hasSymbol != nil && !has("vpanic") {
		why += " (vpanic not found)"
	}
	return Line619, why
}

// line61 tells 6.1 as released from 6.1.y with the backport. The helper is
// static and normally inlined, so its absence from kallsyms proves nothing.
func line61(v version, has func(string) bool) (string, string) {
	if has("panic_other_cpus_shutdown") {
		return Line61Stable, "6.1 with panic_other_cpus_shutdown (6.1.16+ backport)"
	}
	if v.hasPatch && v.patch > 0 {
		if v.patch >= stable61Sublevel {
			return Line61Stable, fmt.Sprintf("6.1.%d >= 6.1.%d: panic_other_cpus_shutdown backported", v.patch, stable61Sublevel)
		}
		return Line61, fmt.Sprintf("6.1.%d < 6.1.%d: before the panic_other_cpus_shutdown backport", v.patch, stable61Sublevel)
	}
	if m := debianABIRE.FindStringSubmatch(v.rest); m != nil {
		abi, _ := strconv.Atoi(m[1])
		if abi >= debian61StableABI {
			return Line61Stable, fmt.Sprintf("Debian 6.1.0-%d (ABI >= %d = 6.1.20-1): panic_other_cpus_shutdown backported in 6.1.16 (static, inlined)", abi, debian61StableABI)
		}
		return Line61, fmt.Sprintf("Debian 6.1.0-%d (ABI < %d): built from 6.1.15 or older", abi, debian61StableABI)
	}
	return Line61, "6.1 without a sublevel and panic_other_cpus_shutdown not found (it is static and usually inlined: the backport cannot be ruled out)"
}

// kind identifies a step of the model independently of its name and slot.
type kind int

const (
	kMessage kind = iota
	kCrashPre
	kStop
	kNotifiers
	kPrintInfo // panic_print_sys_info(false) / sys_info(panic_print), before kmsg_dump
	kKmsg
	kCrashPost
	kConsole
	kPrintReplay // panic_print_sys_info(true) / panic_console_replay
	kPrint510    // 5.10 panic_print_sys_info(), after the console flush
	kRestart
	kEnd
)

// features are the per-line differences in panic(), read from kernel/panic.c:
//
//	5.10 (Debian 5.10.223): !post: printk_safe_flush_on_panic(); __crash_kexec(); smp_send_stop(),
//	     post: crash_smp_send_stop(); notifiers; printk_safe_flush_on_panic(); kmsg_dump();
//	     [post: __crash_kexec()]; unblank_screen(); console_unblank(); console_flush_on_panic();
//	     panic_print_sys_info() (replay + info, after the flush); restart; end + flush.
//	6.1 (v6.1 … 6.1.15): same CPU-stop if/else; notifiers; panic_print_sys_info(false)
//	     (incl. the all-CPU backtrace, after the CPUs are stopped); kmsg_dump(); [post];
//	     console flush; panic_print_sys_info(true) (replay); restart; end, no flush after it.
//	6.1-stable (6.1.16+, Debian 6.1.192): panic_other_cpus_shutdown(post) does the
//	     backtrace then smp_send_stop()/crash_smp_send_stop(); flush after the end (6.1.86+).
//	6.12 (Debian 6.12.117): + printk_legacy_allow_panic_sync(); kmsg_dump_desc(); panic_print
//	     bit 0x80; nbcon_atomic_flush_unsafe() after the end line.
//	6.19: body in vpanic(); sys_info(panic_print) (sys_info(0) may use kernel_si_mask);
//	     replay if bit 0x20 or panic_console_replay.
//	7.3 (Debian 7.3.4): 6.19's order; panic_try_force_cpu() (panic_force_cpu=) may hand the
//	     panic to another CPU before panic_try_start() claims panic_cpu.
type features struct {
	line         string
	fn           string // function holding the body: "panic" or "vpanic"
	forceCPU     bool   // panic_try_force_cpu(): panic_force_cpu= may move the panic to another CPU (7.3)
	otherCPUs    bool   // panic_other_cpus_shutdown(): ALL_CPU_BT backtrace, then stop
	printInfo    bool   // panic_print_sys_info(false) before kmsg_dump (6.1+)
	sysInfo      bool   // sys_info(panic_print) (6.19)
	kmsgDesc     bool   // kmsg_dump_desc(KMSG_DUMP_PANIC, buf) (6.12+)
	legacySync   bool   // printk_legacy_allow_panic_sync() after stopping CPUs (6.12+)
	finalFlush   bool   // console_flush_on_panic() after the end line
	nbconFlush   bool   // nbcon_atomic_flush_unsafe() after it (6.12+)
	printkSafe   bool   // printk_safe_flush_on_panic() (5.10)
	unblank      bool   // unblank_screen() under CONFIG_VT (5.10)
	sysInfoBits  uint64 // panic_print bits acted on by the sys-info call
	allCPUBTInfo bool   // PANIC_PRINT_ALL_CPU_BT handled after CPUs were stopped (6.1.0 bug)
	stop         stopNotes
}

// stopNotes cite how the architecture stops the other CPUs.
type stopNotes struct {
	crashShutdown string // machine_crash_shutdown() inside __crash_kexec()
	crashStop     string // crash_smp_send_stop()
	stop          string // smp_send_stop()
	crashHow      string // the crash stop in a few words
}

// stopNotesFor gives the x86_64 mechanisms for "" and "x86_64"
// (arch/x86/kernel/crash.c, smp.c) and arm64's for "aarch64"
// (arch/arm64/kernel/smp.c, machine_kexec.c).
func stopNotesFor(arch string) stopNotes {
	if arch == "aarch64" {
		return stopNotes{
			crashShutdown: "arch/arm64/kernel/machine_kexec.c machine_crash_shutdown() stops the other CPUs first: crash_smp_send_stop() → IPI_CPU_CRASH_STOP (ipi_cpu_crash_stop saves their registers)",
			crashStop:     "arch/arm64/kernel/smp.c crash_smp_send_stop(): IPI_CPU_CRASH_STOP, other CPUs save their registers in ipi_cpu_crash_stop and park or power off",
			stop:          "arch/arm64/kernel/smp.c smp_send_stop(): IPI_CPU_STOP (pseudo-NMI fallback), other CPUs park in local_cpu_stop → cpu_park_loop",
			crashHow:      "IPI_CPU_CRASH_STOP, ipi_cpu_crash_stop",
		}
	}
	return stopNotes{
		crashShutdown: "arch/x86/kernel/crash.c native_machine_crash_shutdown() stops the other CPUs first: crash_smp_send_stop() → kdump_nmi_shootdown_cpus() (NMI, crash_nmi_callback)",
		crashStop:     "arch/x86/kernel/crash.c crash_smp_send_stop() → kdump_nmi_shootdown_cpus(): NMI, other CPUs park in crash_nmi_callback",
		stop:          "arch/x86/kernel/smp.c native_stop_other_cpus(): REBOOT_VECTOR IPI (NMI fallback), other CPUs halt in stop_this_cpu",
		crashHow:      "NMI, crash_nmi_callback",
	}
}

const (
	ppTasks   = 0x01
	ppMem     = 0x02
	ppTimers  = 0x04
	ppLocks   = 0x08
	ppFtrace  = 0x10
	ppReplay  = 0x20 // PANIC_PRINT_ALL_PRINTK_MSG / SYS_INFO_PANIC_CONSOLE_REPLAY
	ppAllBT   = 0x40 // PANIC_PRINT_ALL_CPU_BT / SYS_INFO_ALL_CPU_BT (5.18+)
	ppBlocked = 0x80 // PANIC_PRINT_BLOCKED_TASKS / SYS_INFO_BLOCKED_TASKS (6.12 here)
)

func featuresFor(line string) features {
	switch line {
	case Line510:
		// Debian 5.10.223 kernel/panic.c
		return features{line: line, fn: "panic", printkSafe: true, unblank: true, finalFlush: true,
			sysInfoBits: ppTasks | ppMem | ppTimers | ppLocks | ppFtrace}
	case Line61:
		// v6.1 kernel/panic.c; "panic: Flush kernel log buffer at the end" came in 6.1.86
		return features{line: line, fn: "panic", printInfo: true, allCPUBTInfo: true,
			sysInfoBits: ppTasks | ppMem | ppTimers | ppLocks | ppFtrace | ppAllBT}
	case Line612:
		// Debian 6.12.117 kernel/panic.c
		return features{line: line, fn: "panic", otherCPUs: true, printInfo: true, kmsgDesc: true,
			legacySync: true, finalFlush: true, nbconFlush: true,
			sysInfoBits: ppTasks | ppMem | ppTimers | ppLocks | ppFtrace | ppBlocked}
	case Line619:
		// v6.19 kernel/panic.c vpanic(), lib/sys_info.c
		return features{line: line, fn: "vpanic", otherCPUs: true, printInfo: true, sysInfo: true,
			kmsgDesc: true, legacySync: true, finalFlush: true, nbconFlush: true,
			sysInfoBits: ppTasks | ppMem | ppTimers | ppLocks | ppFtrace | ppAllBT | ppBlocked}
	case Line73:
		// Debian 7.3.4 kernel/panic.c vpanic(): the 6.19 order, with
		// panic_try_force_cpu() before panic_try_start().
		return features{line: line, fn: "vpanic", forceCPU: true, otherCPUs: true, printInfo: true, sysInfo: true,
			kmsgDesc: true, legacySync: true, finalFlush: true, nbconFlush: true,
			sysInfoBits: ppTasks | ppMem | ppTimers | ppLocks | ppFtrace | ppAllBT | ppBlocked}
	}
	// Line61Stable (and LineUnknown, which uses its order): Debian 6.1.192 kernel/panic.c
	return features{line: line, fn: "panic", otherCPUs: true, printInfo: true, finalFlush: true,
		sysInfoBits: ppTasks | ppMem | ppTimers | ppLocks | ppFtrace}
}

// stepDef is one step of a line's model.
type stepDef struct {
	kind     kind
	step     StepName
	slot     string
	function string
	source   string
	note     string
}

// model lists the steps of panic() for a line in execution order. post picks
// the CPU-stop function where the line's code depends on it.
func model(f features, post *bool) []stepDef {
	if f.stop == (stopNotes{}) {
		f.stop = stopNotesFor("")
	}
	src := func(s string) string { return fmt.Sprintf("kernel/panic.c %s(): %s", f.fn, s) }
	var d []stepDef

	// kernel/panic.c panic(): pr_emerg("Kernel panic - not syncing: %s\n", buf);
	// dump_stack() unless TAINT_DIE / nested oops; kgdb_panic(buf).
	msg := stepDef{kind: kMessage, step: StepMessage, function: "pr_emerg+dump_stack",
		source: src(`pr_emerg("Kernel panic - not syncing: %s\n", buf); dump_stack(); kgdb_panic(buf)`)}
	if f.forceCPU {
		// Debian 7.3.4 kernel/panic.c vpanic(): if (panic_try_force_cpu(fmt, args))
		// { set_cpu_online(cpu, false); panic_smp_self_stop(); } then
		// panic_try_start() claims panic_cpu (else panic_smp_self_stop()).
		msg.source = src(`panic_try_force_cpu(fmt, args); panic_try_start(); pr_emerg("Kernel panic - not syncing: %s\n", buf); dump_stack(); kgdb_panic(buf)`)
		msg.note = "with panic_force_cpu=N a panic on another CPU first prints \"panic: Redirecting from CPU A to CPU N for crash kernel.\" " +
			"and its stack, hands the panic to CPU N (panic_smp_redirect_cpu(): an IPI calling panic()) and stops itself; " +
			"CPU N prints the message with \"panic: Redirected from CPU A, skipping stack dump.\""
	}
	d = append(d, msg)

	// kernel/panic.c panic(): if (!_crash_kexec_post_notifiers) __crash_kexec(NULL);
	// kernel/kexec_core.c __crash_kexec(): if (kexec_crash_image) { machine_crash_shutdown(); machine_kexec(); }
	pre := stepDef{kind: kCrashPre, step: StepCrashKexec, slot: SlotBeforeNotifiers, function: "__crash_kexec",
		source: src("if (!_crash_kexec_post_notifiers) __crash_kexec(NULL)"),
		note:   f.stop.crashShutdown}
	if f.printkSafe {
		pre.source = src("if (!_crash_kexec_post_notifiers) { printk_safe_flush_on_panic(); __crash_kexec(NULL); smp_send_stop(); }")
	}
	d = append(d, pre)

	// Stopping the other CPUs.
	stop := stepDef{kind: kStop, step: StepStopCPUs}
	stopFn := "smp_send_stop or crash_smp_send_stop (crash_kexec_post_notifiers unknown)"
	if post != nil {
		stopFn = map[bool]string{false: "smp_send_stop", true: "crash_smp_send_stop"}[*post]
	}
	if f.otherCPUs {
		// kernel/panic.c panic_other_cpus_shutdown(): ALL_CPU_BT backtrace, then
		// smp_send_stop() or crash_smp_send_stop().
		stop.function = "panic_other_cpus_shutdown → " + stopFn
		stop.source = src("panic_other_cpus_shutdown(_crash_kexec_post_notifiers)")
		stop.note = "panic_print bit 0x40 (all-CPU NMI backtrace) is handled here, before the CPUs are stopped"
		if f.legacySync {
			stop.source += "; printk_legacy_allow_panic_sync()"
			stop.note += "; then printk_legacy_allow_panic_sync() lets legacy consoles print synchronously"
		}
	} else {
		// kernel/panic.c panic(): smp_send_stop() in the !post branch after
		// __crash_kexec returned, else crash_smp_send_stop().
		stop.function = stopFn
		stop.source = src("!_crash_kexec_post_notifiers: smp_send_stop() after __crash_kexec(); else crash_smp_send_stop()")
	}
	if post != nil && *post {
		stop.note = joinNote(stop.note, f.stop.crashStop)
	} else if post != nil {
		stop.note = joinNote(stop.note, f.stop.stop)
	}
	d = append(d, stop)

	// kernel/panic.c panic(): atomic_notifier_call_chain(&panic_notifier_list, 0, buf);
	d = append(d, stepDef{kind: kNotifiers, step: StepNotifiers, function: "atomic_notifier_call_chain",
		source: src("atomic_notifier_call_chain(&panic_notifier_list, 0, buf)"),
		note:   "kernel/notifier.c notifier_call_chain(): callbacks in priority order, stops only on NOTIFY_STOP_MASK"})

	if f.printInfo {
		if f.sysInfo {
			// kernel/panic.c vpanic(): sys_info(panic_print); lib/sys_info.c
			d = append(d, stepDef{kind: kPrintInfo, step: StepPanicPrint, slot: SlotSysInfo, function: "sys_info",
				source: src("sys_info(panic_print)"),
				note:   "lib/sys_info.c: tasks 0x1, mem 0x2, timers 0x4, locks 0x8, ftrace 0x10, all_bt 0x40, blocked_tasks 0x80"})
		} else {
			// kernel/panic.c panic(): panic_print_sys_info(false);
			n := "tasks 0x1, mem 0x2, timers 0x4, locks 0x8, ftrace 0x10"
			if f.allCPUBTInfo {
				n += ", all-CPU backtrace 0x40 (here after the CPUs were stopped: fixed by 6.1.16 / v6.3)"
			}
			if f.sysInfoBits&ppBlocked != 0 {
				n += ", blocked tasks 0x80"
			}
			d = append(d, stepDef{kind: kPrintInfo, step: StepPanicPrint, slot: SlotSysInfo, function: "panic_print_sys_info",
				source: src("panic_print_sys_info(false)"), note: n})
		}
	}

	// kernel/panic.c panic(): kmsg_dump(KMSG_DUMP_PANIC) / kmsg_dump_desc(KMSG_DUMP_PANIC, buf);
	// kernel/printk/printk.c: dumpers in dump_list order, skipped when reason > max_reason.
	km := stepDef{kind: kKmsg, step: StepKmsgDump, function: "kmsg_dump", source: src("kmsg_dump(KMSG_DUMP_PANIC)")}
	if f.printkSafe {
		km.source = src("printk_safe_flush_on_panic(); kmsg_dump(KMSG_DUMP_PANIC)")
	}
	if f.kmsgDesc {
		km.function = "kmsg_dump_desc"
		km.source = src("kmsg_dump_desc(KMSG_DUMP_PANIC, buf)")
	}
	d = append(d, km)

	// kernel/panic.c panic(): if (_crash_kexec_post_notifiers) __crash_kexec(NULL);
	postDef := stepDef{kind: kCrashPost, step: StepCrashKexec, slot: SlotAfterKmsgDump, function: "__crash_kexec",
		source: src("if (_crash_kexec_post_notifiers) __crash_kexec(NULL)")}
	if post != nil && *post {
		// arch/x86/kernel/crash.c crash_smp_send_stop(): static cpus_stopped, runs once
		postDef.note = "the other CPUs were already stopped by crash_smp_send_stop(); machine_crash_shutdown()'s call returns at once"
	}
	d = append(d, postDef)

	// kernel/panic.c panic(): console_unblank(); debug_locks_off(); console_flush_on_panic(CONSOLE_FLUSH_PENDING);
	con := stepDef{kind: kConsole, step: StepConsoleFlush, function: "console_flush_on_panic",
		source: src("console_unblank(); debug_locks_off(); console_flush_on_panic(CONSOLE_FLUSH_PENDING)")}
	if f.unblank {
		con.source = src("unblank_screen(); console_unblank(); debug_locks_off(); console_flush_on_panic(CONSOLE_FLUSH_PENDING)")
	}
	d = append(d, con)

	switch {
	case f.sysInfo:
		// kernel/panic.c vpanic(): if ((panic_print & SYS_INFO_PANIC_CONSOLE_REPLAY) || panic_console_replay)
		//	console_flush_on_panic(CONSOLE_REPLAY_ALL);
		d = append(d, stepDef{kind: kPrintReplay, step: StepPanicPrint, slot: SlotConsoleReplay, function: "console_flush_on_panic",
			source: src("if ((panic_print & SYS_INFO_PANIC_CONSOLE_REPLAY) || panic_console_replay) console_flush_on_panic(CONSOLE_REPLAY_ALL)")})
	case f.printInfo:
		// kernel/panic.c panic(): panic_print_sys_info(true) → console_flush_on_panic(CONSOLE_REPLAY_ALL) if bit 0x20
		d = append(d, stepDef{kind: kPrintReplay, step: StepPanicPrint, slot: SlotConsoleReplay, function: "panic_print_sys_info",
			source: src("panic_print_sys_info(true): if (panic_print & PANIC_PRINT_ALL_PRINTK_MSG) console_flush_on_panic(CONSOLE_REPLAY_ALL)")})
	default:
		// kernel/panic.c panic() (5.10): panic_print_sys_info(); replay 0x20 first, then the sys info
		d = append(d, stepDef{kind: kPrint510, step: StepPanicPrint, function: "panic_print_sys_info",
			source: src("panic_print_sys_info()"),
			note:   "replay 0x20, tasks 0x1, mem 0x2, timers 0x4, locks 0x8, ftrace 0x10 (no all-CPU backtrace bit in 5.10)"})
	}

	// kernel/panic.c panic(): if (panic_timeout > 0) { pr_emerg("Rebooting in %d seconds..\n"); mdelay loop }
	// if (panic_timeout != 0) emergency_restart();
	d = append(d, stepDef{kind: kRestart, step: StepRestart, function: "emergency_restart",
		source: src(`if (panic_timeout > 0) { pr_emerg("Rebooting in %d seconds..\n", panic_timeout); delay } if (panic_timeout != 0) emergency_restart()`)})

	// kernel/panic.c panic(): pr_emerg("---[ end Kernel panic - not syncing: %s ]---\n", buf); … for (;;) mdelay
	end := stepDef{kind: kEnd, step: StepEnd, function: "pr_emerg",
		source: src(`pr_emerg("---[ end Kernel panic - not syncing: %s ]---\n", buf); suppress_printk = 1; local_irq_enable(); for (;;) mdelay(PANIC_TIMER_STEP)`)}
	switch {
	case f.nbconFlush:
		end.note = "then console_flush_on_panic(CONSOLE_FLUSH_PENDING) and nbcon_atomic_flush_unsafe() before the loop"
	case f.finalFlush:
		end.note = "then console_flush_on_panic(CONSOLE_FLUSH_PENDING) before the loop"
	default:
		end.note = "no console flush after this line before 6.1.86 (\"panic: Flush kernel log buffer at the end\")"
	}
	d = append(d, end)
	return d
}

func joinNote(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "; " + b
}
