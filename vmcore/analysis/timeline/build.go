package timeline

import (
	"fmt"
	"sort"
	"strings"

	"github.com/panicscope/panicscope/vmcore/printk"
)

// Build joins the model of the release's kernel line with the evidence in in.
// It returns the line and the steps in the order they ran or would have run;
// crash_kexec and (6.1+) panic_print appear twice, told apart by Slot.
func Build(in Inputs) (string, []Step) {
	line, why := Line(in.Release, in.HasSymbol)
	if in.Line != "" {
		line, why = in.Line, "chosen by the caller"
	}
	f := featuresFor(line)
	f.stop = stopNotesFor(in.Arch)
	b := &builder{in: in, f: f, defs: model(f, in.PostNotifiers)}
	b.scanLog()
	steps := b.run()
	if line == LineUnknown {
		steps[0].Note = joinNote(steps[0].Note, "kernel line unknown ("+why+"): the 6.1-stable order is assumed")
	}
	return line, steps
}

type cond int

const (
	condActive   cond = iota // the step does its work when reached
	condInactive             // reached or not, it does nothing (reason says why)
	condUnknown              // depends on an unknown input
)

type builder struct {
	in   Inputs
	f    features
	defs []stepDef

	msgLine, endLine, rebootLine, nmiLine *LogLine
	// faultLine is an oops after the panic message whose faulting
	// function is a notifier or dumper (faultMember), with no second panic
	// message: the callback faulted and panic() did not go on.
	faultLine            *LogLine
	faultMember          string
	notifierEv, dumperEv map[int][]Evidence // member index → its log lines
}

func (b *builder) has(sym string) bool { return b.in.HasSymbol != nil && b.in.HasSymbol(sym) }

func (b *builder) index(k kind) int {
	for i, d := range b.defs {
		if d.kind == k {
			return i
		}
	}
	return -1
}

// scanLog finds the characteristic lines among the records at or after the
// panic message.
func (b *builder) scanLog() {
	b.notifierEv, b.dumperEv = map[int][]Evidence{}, map[int][]Evidence{}
	var floor uint64
	haveFloor := b.in.PanicSeq != nil
	if haveFloor {
		floor = *b.in.PanicSeq
	}
	for i := range b.in.Log {
		l := &b.in.Log[i]
		if haveFloor && l.Seq < floor {
			continue
		}
		msg, kind := printk.ParsePanicLine(l.Text)
		if kind != printk.PanicMessageLine {
			continue
		}
		if !haveFloor && b.in.PanicMessage != "" && msg != b.in.PanicMessage {
			continue
		}
		b.msgLine = l
		floor, haveFloor = l.Seq, true
		break
	}
	for i := range b.in.Log {
		l := &b.in.Log[i]
		if haveFloor && l.Seq < floor {
			continue
		}
		t := strings.TrimSpace(l.Text)
		if _, kind := printk.ParsePanicLine(l.Text); kind == printk.PanicEndLine {
			if b.endLine == nil {
				b.endLine = l
			}
			continue
		}
		switch {
		case strings.HasPrefix(t, rebootPrefix) && strings.Contains(t, " seconds.."):
			if b.rebootLine == nil {
				b.rebootLine = l
			}
			continue
		case strings.HasPrefix(t, nmiStopLine):
			if b.nmiLine == nil {
				b.nmiLine = l
			}
			continue
		}
		if b.matchMember(b.in.Notifiers, b.notifierEv, *l, t) {
			continue
		}
		b.matchMember(b.in.Dumpers, b.dumperEv, *l, t)
	}
	if b.msgLine != nil {
		b.scanFault(floor)
	}
}

// oopsPrefixes start the report an oops prints (die(), __die(), do_trap()).
var oopsPrefixes = []string{"Oops: ", "BUG: ", "general protection fault", "kernel BUG at "}

// scanFault finds an oops after the panic message whose faulting function
// (the "RIP: 0010:func+off" line on x86_64, "pc : func+off" on arm64) is a
// panic notifier or kmsg dumper: panic() called it, it faulted, and
// oops_end() killed the task (panic_on_oops=0) — unless a second panic
// message follows (panic_on_oops: panic() re-entered), which is left to
// the other rules.
func (b *builder) scanFault(floor uint64) {
	for _, l := range b.in.Log {
		if _, kind := printk.ParsePanicLine(l.Text); kind == printk.PanicMessageLine && l.Seq > floor {
			return // panic() ran again: not a simple abandon
		}
	}
	var oops *LogLine
	for i := range b.in.Log {
		l := &b.in.Log[i]
		if l.Seq <= floor {
			continue
		}
		t := strings.TrimSpace(l.Text)
		for _, p := range oopsPrefixes {
			if oops == nil && strings.HasPrefix(t, p) {
				oops = l
			}
		}
		if oops == nil {
			continue
		}
		fn := ""
		switch {
		case strings.HasPrefix(t, "RIP: 0010:"):
			fn = strings.TrimPrefix(t, "RIP: 0010:")
		case strings.HasPrefix(t, "pc : "):
			fn = strings.TrimPrefix(t, "pc : ")
		default:
			continue
		}
		if i := strings.IndexAny(fn, "+ "); i > 0 {
			fn = fn[:i]
		}
		for _, ms := range [][]Member{b.in.Notifiers, b.in.Dumpers} {
			for _, m := range ms {
				if normSym(m.Name) == normSym(fn) && b.faultLine == nil {
					b.faultLine, b.faultMember = oops, m.Name
				}
			}
		}
	}
}

func (b *builder) matchMember(ms []Member, ev map[int][]Evidence, l LogLine, t string) bool {
	for i, m := range ms {
		for _, p := range memberLines[normSym(m.Name)] {
			if strings.HasPrefix(t, p) {
				ev[i] = append(ev[i], logEvidence(l))
				return true
			}
		}
	}
	return false
}

func (b *builder) panicCPU() *CPUEvidence {
	for i := range b.in.CPUs {
		if b.in.CPUs[i].Panicking {
			return &b.in.CPUs[i]
		}
	}
	return nil
}

// panicEvidence says whether anything shows that panic() ran at all.
func (b *builder) panicEvidence() bool {
	// A kdump capture alone is not evidence: crash_kexec() is also called
	// from oops_end()/die() without panic() (see directKexec).
	if b.msgLine != nil || b.in.PanicMessage != "" || b.in.PanicSeq != nil || b.endLine != nil {
		return true
	}
	if c := b.panicCPU(); c != nil {
		for _, s := range chain(*c) {
			if s == "panic" || s == "vpanic" {
				return true
			}
		}
	}
	return false
}

// cpuStep maps the panicking CPU to a step index (-1: no usable evidence) and,
// inside the notifier chain or kmsg_dump, to the member it is in.
func (b *builder) cpuStep() (int, string) {
	c := b.panicCPU()
	if c == nil {
		return -1, ""
	}
	cls, below := cpuPosition(*c)
	memberIn := func(ms []Member) string {
		for _, s := range below {
			for _, m := range ms {
				if normSym(m.Name) == s {
					return m.Name
				}
			}
		}
		return ""
	}
	post := b.in.PostNotifiers
	switch cls {
	case cMessage:
		return b.index(kMessage), ""
	case cCrash:
		if post == nil {
			return -1, "" // which call site is not told by the stack
		}
		if *post {
			return b.index(kCrashPost), ""
		}
		return b.index(kCrashPre), ""
	case cStop:
		return b.index(kStop), ""
	case cNotifiers:
		return b.index(kNotifiers), memberIn(b.in.Notifiers)
	case cKmsg:
		return b.index(kKmsg), memberIn(b.in.Dumpers)
	case cPrint:
		if i := b.index(kPrint510); i >= 0 {
			return i, ""
		}
		for _, s := range below {
			if s == "console_flush_on_panic" {
				return b.index(kPrintReplay), ""
			}
		}
		return b.index(kPrintInfo), ""
	case cConsole:
		if b.endLine != nil {
			return b.index(kEnd), ""
		}
		return b.index(kConsole), ""
	case cRestart:
		return b.index(kRestart), ""
	case cLoop:
		t := b.in.PanicTimeout
		switch {
		case b.endLine != nil:
			return b.index(kEnd), ""
		case b.rebootLine != nil || (t != nil && *t > 0):
			return b.index(kRestart), ""
		case t != nil && *t == 0:
			return b.index(kEnd), ""
		}
	}
	return -1, ""
}

// furthest is the index of the last step with direct evidence of having run.
func (b *builder) furthest() int {
	f := -1
	if b.panicEvidence() {
		f = b.index(kMessage)
	}
	if b.nmiLine != nil {
		f = max(f, b.index(kStop))
	}
	for _, c := range b.in.CPUs {
		if st, _ := otherCPUState(c); !c.Panicking && strings.HasPrefix(st, "stopped by smp_send_stop") {
			f = max(f, b.index(kStop))
		}
	}
	if len(b.notifierEv) > 0 {
		f = max(f, b.index(kNotifiers))
	}
	if len(b.dumperEv) > 0 {
		f = max(f, b.index(kKmsg))
	}
	if b.rebootLine != nil {
		f = max(f, b.index(kRestart))
	}
	if b.endLine != nil {
		f = max(f, b.index(kEnd))
	}
	return f
}

// cond evaluates whether a step does its work when reached.
func (b *builder) cond(d stepDef) (cond, string) {
	in := b.in
	switch d.kind {
	case kCrashPre, kCrashPost:
		return b.crashCond(d.kind == kCrashPost)
	case kPrintInfo:
		return b.printInfoCond()
	case kPrintReplay:
		return b.replayCond()
	case kPrint510:
		if in.PanicPrint == nil {
			return condUnknown, "panic_print unknown"
		}
		pp := *in.PanicPrint
		if bits := pp & (b.f.sysInfoBits | ppReplay); bits != 0 {
			return condActive, fmt.Sprintf("panic_print=%s: %s", hex(pp), bitNames(bits))
		}
		if pp == 0 {
			return condInactive, "panic_print=0"
		}
		return condInactive, fmt.Sprintf("panic_print=%s: no bit handled by 5.10", hex(pp))
	case kRestart:
		t := in.PanicTimeout
		switch {
		case t == nil:
			return condUnknown, "panic_timeout unknown"
		case *t == 0:
			return condInactive, "panic_timeout=0: no reboot"
		case *t > 0:
			return condActive, fmt.Sprintf("panic_timeout=%d: emergency_restart() after %d s", *t, *t)
		}
		return condActive, fmt.Sprintf("panic_timeout=%d: immediate emergency_restart()", *t)
	case kStop:
		if b.f.otherCPUs && in.PanicPrint != nil && *in.PanicPrint&ppAllBT != 0 {
			return condActive, fmt.Sprintf("panic_print=%s: all-CPU backtrace, then stop", hex(*in.PanicPrint))
		}
	}
	return condActive, ""
}

// condition exports a cond.
func condition(c cond, why string) Condition {
	switch c {
	case condInactive:
		return Condition{CondInactive, why}
	case condUnknown:
		return Condition{CondUnknown, why}
	}
	return Condition{CondActive, why}
}

func (b *builder) crashCond(postSlot bool) (cond, string) {
	post, loaded := b.in.PostNotifiers, b.in.CrashKernelLoaded
	const noImage = "no crash kernel loaded (kexec_crash_image=NULL)"
	switch {
	case post == nil:
		if loaded != nil && !*loaded {
			return condInactive, noImage + "; crash_kexec_post_notifiers unknown"
		}
		return condUnknown, "crash_kexec_post_notifiers unknown"
	case *post != postSlot:
		r := "crash_kexec_post_notifiers=" + onOff(*post)
		if loaded != nil && !*loaded {
			r = noImage + "; " + r
		}
		return condInactive, r
	case loaded == nil:
		return condUnknown, "kexec_crash_image unknown"
	case !*loaded:
		return condInactive, noImage
	}
	return condActive, "crash kernel loaded; crash_kexec_post_notifiers=" + onOff(*post)
}

func (b *builder) printInfoCond() (cond, string) {
	in := b.in
	if in.PanicPrint == nil {
		return condUnknown, "panic_print unknown"
	}
	pp := *in.PanicPrint
	if bits := pp & b.f.sysInfoBits; bits != 0 {
		return condActive, fmt.Sprintf("panic_print=%s: %s", hex(pp), bitNames(bits))
	}
	if pp == 0 && b.f.sysInfo {
		// lib/sys_info.c sys_info(): __sys_info(si_mask ? : kernel_si_mask)
		switch {
		case in.KernelSIMask != nil && *in.KernelSIMask&b.f.sysInfoBits != 0:
			return condActive, fmt.Sprintf("panic_print=0: sys_info(0) used kernel_si_mask=%s: %s",
				hex(*in.KernelSIMask), bitNames(*in.KernelSIMask&b.f.sysInfoBits))
		case in.KernelSIMask != nil:
			return condInactive, "panic_print=0; kernel_si_mask=0"
		case b.has("kernel_si_mask"):
			return condUnknown, "panic_print=0: sys_info(0) falls back to kernel_si_mask, which is unknown"
		}
	}
	if pp == 0 {
		return condInactive, "panic_print=0"
	}
	return condInactive, fmt.Sprintf("panic_print=%s: no bit for %s", hex(pp), b.defs[b.index(kPrintInfo)].function)
}

func (b *builder) replayCond() (cond, string) {
	in := b.in
	pp := in.PanicPrint
	if pp != nil && *pp&ppReplay != 0 {
		return condActive, fmt.Sprintf("panic_print=%s: console_flush_on_panic(CONSOLE_REPLAY_ALL)", hex(*pp))
	}
	if b.f.sysInfo {
		r := in.PanicConsoleReplay
		switch {
		case r != nil && *r:
			return condActive, "panic_console_replay=Y: console_flush_on_panic(CONSOLE_REPLAY_ALL)"
		case pp == nil:
			return condUnknown, "panic_print unknown"
		case r == nil:
			return condUnknown, fmt.Sprintf("panic_print=%s without bit 0x20; panic_console_replay unknown", hex(*pp))
		}
		return condInactive, fmt.Sprintf("panic_print=%s, panic_console_replay=N: no console replay", hex(*pp))
	}
	if pp == nil {
		return condUnknown, "panic_print unknown"
	}
	if *pp == 0 {
		return condInactive, "panic_print=0"
	}
	return condInactive, fmt.Sprintf("panic_print=%s: no console replay (bit 0x20 clear)", hex(*pp))
}

var ppNames = []struct {
	bit  uint64
	name string
}{
	{ppTasks, "show_state()"}, {ppMem, "show_mem()"}, {ppTimers, "sysrq_timer_list_show()"},
	{ppLocks, "debug_show_all_locks()"}, {ppFtrace, "ftrace_dump(DUMP_ALL)"},
	{ppReplay, "console_flush_on_panic(CONSOLE_REPLAY_ALL)"}, {ppAllBT, "trigger_all_cpu_backtrace()"},
	{ppBlocked, "show_state_filter(TASK_UNINTERRUPTIBLE)"},
}

func bitNames(bits uint64) string {
	var n []string
	for _, p := range ppNames {
		if bits&p.bit != 0 {
			n = append(n, p.name)
		}
	}
	return strings.Join(n, ", ")
}

// frontier is where the panicking CPU was when the dump was taken.
type frontier struct {
	r         int    // index of the running step; -1 if not known
	ambiguous bool   // kdump with crash_kexec_post_notifiers unknown and no log to tell
	furthest  int    // with r < 0: the last step with evidence
	running   string // reason of the running step
	after     string // reason for the steps after it
	member    string // member the CPU is in (notifiers / kmsg_dump)
	// notCalled: the crash kernel was entered without panic() (every step
	// not reached, this the reason); noPanic: the crash kernel was entered
	// and nothing read says whether through panic() (every step unknown).
	notCalled, noPanic string
	// faulted: the member at r faulted and panic() was abandoned there.
	faulted bool
}

// oopsFrames are the functions that call crash_kexec() themselves when
// kexec_should_crash() (panic_on_oops, an oops in interrupt context or in
// the idle or init task): x86 oops_end() (arch/x86/kernel/dumpstack.c),
// arm64 die() (arch/arm64/kernel/traps.c), powerpc/s390 die paths.
var oopsFrames = []string{"oops_end", "die", "__die", "die_addr", "arm64_notify_die", "do_kernel_fault"}

// directKexec reports whether the panicking CPU's stack shows crash_kexec()
// called from an oops path with no panic() frame: kexec_core.c crash_kexec()
// claims panic_cpu too, so that CPU reads as the panicking one.
func (b *builder) directKexec() (bool, *CPUEvidence) {
	c := b.panicCPU()
	if c == nil {
		return false, nil
	}
	crash, oops := false, false
	for _, s := range chain(*c) {
		switch {
		case s == "panic" || s == "vpanic" || s == "nmi_panic":
			return false, nil
		case s == "crash_kexec" || s == "__crash_kexec":
			crash = true
		case crash && contains(oopsFrames, s):
			oops = true
		}
	}
	return crash && oops, c
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (b *builder) frontier() frontier {
	fr := frontier{r: -1, furthest: b.furthest()}
	in := b.in
	if in.Capture == CaptureKdump {
		if direct, _ := b.directKexec(); direct {
			fr.notCalled = "panic() was not called: oops_end()/die() called crash_kexec() directly (kexec_should_crash(): panic_on_oops or an oops in interrupt context or in the idle or init task, with a crash kernel loaded), and the crash kernel took the dump there"
			return fr
		}
		if !b.panicEvidence() && in.Oops != nil && in.LogWhole {
			// panic() prints "Kernel panic - not syncing" (pr_emerg) before
			// either __crash_kexec() call: a whole log without it, after an
			// oops, means oops_end()/die() called crash_kexec() itself.
			fr.notCalled = "panic() was not called: after the oops, the log (read whole) has no \"Kernel panic - not syncing\" line, which panic() prints before __crash_kexec(): oops_end()/die() called crash_kexec() directly (kexec_should_crash(): panic_on_oops or an oops in interrupt context or in the idle or init task, with a crash kernel loaded)"
			return fr
		}
		if !b.panicEvidence() {
			fr.noPanic = "the crash kernel took the dump (capture=kdump), but nothing read shows whether it was entered from panic(): crash_kexec() is also called from oops_end()/die() without panic() (no panic message in the log, no panic() frame on a readable stack)"
			return fr
		}
		post := in.PostNotifiers
		inferred := ""
		if post == nil {
			if len(b.notifierEv) == 0 && len(b.dumperEv) == 0 {
				fr.ambiguous = true
				return fr
			}
			y := true
			post, inferred = &y, " (crash_kexec_post_notifiers unknown; inferred Y: notifier/dumper output precedes the capture)"
		}
		fr.running = "the crash kernel took the dump inside __crash_kexec() (capture=kdump)" + inferred
		if *post {
			fr.r = b.index(kCrashPost)
			fr.after = "kdump (__crash_kexec) ran after kmsg_dump: crash_kexec_post_notifiers=Y" + inferred
		} else {
			fr.r = b.index(kCrashPre)
			fr.after = "kdump (__crash_kexec) ran first: crash_kexec_post_notifiers=N"
		}
		return fr
	}
	if b.faultLine != nil && b.endLine == nil {
		k := kNotifiers
		for _, m := range in.Dumpers {
			if m.Name == b.faultMember {
				k = kKmsg
			}
		}
		fr.r, fr.member = b.index(k), b.faultMember
		fr.running = fmt.Sprintf("%s faulted (%s): oops_end() killed the task (panic_on_oops=0), so panic() stopped there; the CPU went on without it", b.faultMember, strings.TrimSpace(b.faultLine.Text))
		fr.after = "panic() was abandoned when " + b.faultMember + " faulted"
		fr.faulted = true
		return fr
	}
	ci, member := b.cpuStep()
	switch {
	case ci >= 0 && ci >= fr.furthest:
		fr.r, fr.member = ci, member
	case b.endLine != nil:
		fr.r = b.index(kEnd)
	case b.rebootLine != nil:
		if c, _ := b.cond(b.defs[b.index(kRestart)]); c != condInactive {
			fr.r = b.index(kRestart)
		}
	}
	if fr.r < 0 {
		return fr
	}
	switch b.defs[fr.r].kind {
	case kEnd:
		fr.running = "the panicking CPU spins in the final loop of " + b.f.fn + "(); the dump was taken there"
		if b.endLine == nil {
			fr.running += " (the end line is not in the log)"
		}
	case kRestart:
		if t := in.PanicTimeout; t != nil && *t > 0 {
			fr.running = fmt.Sprintf("waiting panic_timeout=%d s before emergency_restart()", *t)
		} else {
			fr.running = "in emergency_restart()"
		}
		fr.after = "emergency_restart() reboots the machine instead"
	default:
		fr.running = "the panicking CPU is here"
		if c := b.panicCPU(); c != nil {
			fr.running += " (" + cpuText(*c) + ")"
		}
		fr.after = "panic() did not get past " + string(b.defs[fr.r].step)
	}
	return fr
}

func (b *builder) run() []Step {
	in := b.in
	steps := make([]Step, len(b.defs))
	if in.Capture == CaptureLive && !b.panicEvidence() {
		for i, d := range b.defs {
			steps[i] = b.newStep(d)
			steps[i].Condition = condition(b.cond(d))
			steps[i].Status, steps[i].Reason = NotReached, "live system: no panic in progress"
			b.fillMembers(&steps[i], frontier{r: -1})
		}
		return steps
	}
	fr := b.frontier()
	pre, post := b.index(kCrashPre), b.index(kCrashPost)
	for i, d := range b.defs {
		s := b.newStep(d)
		c, reason := b.cond(d)
		s.Condition = condition(c, reason)
		inactiveCrash := (d.kind == kCrashPre || d.kind == kCrashPost) && c == condInactive
		switch {
		case fr.notCalled != "":
			s.Status, s.Reason = NotReached, fr.notCalled
		case fr.noPanic != "" && i > post:
			// Whichever path entered the crash kernel, machine_kexec() did
			// not return: nothing after the last __crash_kexec call ran.
			s.Status, s.Reason = NotReached, "the crash kernel took the dump (capture=kdump): machine_kexec() does not return, whichever path called it"
		case fr.noPanic != "":
			s.Status, s.Reason = Unknown, fr.noPanic
		case fr.ambiguous && i >= pre && i <= post:
			s.Status = Unknown
			if d.kind == kCrashPre || d.kind == kCrashPost {
				s.Reason = "crash_kexec_post_notifiers unknown: the crash kernel took the dump here or at the other __crash_kexec call"
			} else {
				s.Reason = "crash_kexec_post_notifiers unknown: runs only if kdump was deferred until after kmsg_dump"
			}
		case fr.ambiguous && i > post:
			s.Status, s.Reason = NotReached, "kdump (__crash_kexec) ran: the dump was taken by the crash kernel"
		case fr.ambiguous, fr.r >= 0 && i < fr.r, fr.r < 0 && i <= fr.furthest:
			s.Status, s.Reason = b.before(d, c, reason)
		case fr.r >= 0 && i == fr.r:
			s.Status, s.Reason = Running, fr.running
		case inactiveCrash:
			s.Status, s.Reason = Skipped, reason
		case fr.r >= 0:
			s.Status, s.Reason = NotReached, fr.after
		case fr.furthest < 0:
			s.Status, s.Reason = Unknown, "no evidence that panic() ran (no panic message, log line or panicking CPU in panic)"
		default:
			s.Status = Unknown
			s.Reason = fmt.Sprintf("no evidence that panic() got past %s (capture=%s)", b.defs[fr.furthest].step, capture(in.Capture))
		}
		b.addEvidence(&s, d, i, fr)
		if fr.notCalled != "" && i == 0 {
			if in.Oops != nil {
				s.Evidence = append(s.Evidence, logEvidence(*in.Oops))
			}
			if c := b.panicCPU(); c != nil {
				s.Evidence = append(s.Evidence, Evidence{Kind: EvCPU, Text: cpuText(*c)})
			}
		}
		b.fillMembers(&s, fr)
		steps[i] = s
	}
	return steps
}

func capture(c Capture) Capture {
	if c == "" {
		return CaptureUnknown
	}
	return c
}

// before is the status of a step the panicking CPU got past.
func (b *builder) before(d stepDef, c cond, reason string) (Status, string) {
	switch c {
	case condInactive:
		return Skipped, reason
	case condUnknown:
		switch d.kind {
		case kCrashPre, kCrashPost:
			return Skipped, "no kexec here: later steps ran (" + reason + ")"
		case kRestart:
			return Skipped, "no reboot: later steps ran (" + reason + ")"
		case kMessage:
			return Ran, reason
		}
		return Unknown, reason
	}
	switch d.kind {
	case kCrashPre, kCrashPost:
		return Ran, reason + ": __crash_kexec() returned without kexec (kexec_lock busy?): later steps ran"
	case kRestart:
		return Ran, reason + ": emergency_restart() returned: later steps ran"
	}
	return Ran, reason
}

// kdumpFirst: the crash kernel took the dump at the pre-notifier call.
func (b *builder) kdumpFirst() bool {
	return b.in.Capture == CaptureKdump && b.in.PostNotifiers != nil && !*b.in.PostNotifiers
}

func (b *builder) newStep(d stepDef) Step {
	return Step{Step: d.step, Slot: d.slot, Function: d.function, Source: d.source, Note: d.note}
}

func (b *builder) addEvidence(s *Step, d stepDef, i int, fr frontier) {
	in := b.in
	param := func(t string) { s.Evidence = append(s.Evidence, Evidence{Kind: EvParam, Text: t}) }
	switch d.kind {
	case kMessage:
		switch {
		case b.msgLine != nil:
			s.Evidence = append(s.Evidence, logEvidence(*b.msgLine))
		case b.endLine != nil:
			// The message line was lost (overwritten, unreadable) but the
			// end line repeats the message: panic() printed it.
			s.Evidence = append(s.Evidence, logEvidence(*b.endLine))
			s.Note = joinNote(s.Note, "the message line is not in the log; the end line repeats the message")
		case in.PanicMessage != "":
			s.Evidence = append(s.Evidence, Evidence{Kind: EvMemory, Text: "panic message: " + in.PanicMessage, Seq: in.PanicSeq})
		}
		if m := b.message(); m == "Fatal exception" || m == "Fatal exception in interrupt" {
			s.Note = joinNote(s.Note, "panic from an oops (die(), panic_on_oops): TAINT_DIE is set, so dump_stack() is skipped; oops_exit() already called kmsg_dump(KMSG_DUMP_OOPS)")
		}
	case kCrashPre, kCrashPost:
		if in.PostNotifiers != nil {
			param("crash_kexec_post_notifiers=" + onOff(*in.PostNotifiers))
		}
		if in.CrashKernelLoaded != nil {
			param(map[bool]string{true: "kexec_crash_image loaded", false: "kexec_crash_image=NULL"}[*in.CrashKernelLoaded])
		}
		if i == fr.r && in.Capture == CaptureKdump {
			s.Evidence = append(s.Evidence, Evidence{Kind: EvCapture, Text: "captured by the crash kernel (kdump): the dump was taken inside __crash_kexec()"})
		}
		if d.kind == kCrashPre && b.kdumpFirst() {
			// the NMI shootdown ran inside __crash_kexec → machine_crash_shutdown()
			b.otherCPUs(s, func(nmi bool) bool { return nmi })
		}
	case kStop:
		if b.nmiLine != nil {
			s.Evidence = append(s.Evidence, logEvidence(*b.nmiLine))
		}
		b.otherCPUs(s, func(nmi bool) bool { return !nmi || !b.kdumpFirst() })
		if b.kdumpFirst() {
			s.Note = joinNote(s.Note, "with kdump and crash_kexec_post_notifiers=N the other CPUs were stopped inside __crash_kexec(): machine_crash_shutdown() → crash_smp_send_stop() ("+b.f.stop.crashHow+")")
		}
	case kPrintInfo, kPrintReplay, kPrint510:
		if in.PanicPrint != nil {
			param("panic_print=" + hex(*in.PanicPrint))
		}
		if d.kind == kPrintReplay && in.PanicConsoleReplay != nil && b.f.sysInfo {
			param("panic_console_replay=" + onOff(*in.PanicConsoleReplay))
		}
	case kRestart:
		if in.PanicTimeout != nil {
			param(fmt.Sprintf("panic_timeout=%d", *in.PanicTimeout))
		}
		if b.rebootLine != nil {
			s.Evidence = append(s.Evidence, logEvidence(*b.rebootLine))
		}
	case kEnd:
		if b.endLine != nil {
			s.Evidence = append(s.Evidence, logEvidence(*b.endLine))
		}
	}
	if i == fr.r {
		if c := b.panicCPU(); c != nil && len(chain(*c)) > 0 {
			s.Evidence = append(s.Evidence, cpuEvidence(*c, ""))
		}
	}
	sort.SliceStable(s.Evidence, func(a, c int) bool { return evRank(s.Evidence[a]) < evRank(s.Evidence[c]) })
}

// evRank orders a step's evidence: log, memory, parameters, capture, the
// panicking CPU, the other CPUs.
func evRank(e Evidence) int {
	switch e.Kind {
	case EvLog:
		return 0
	case EvMemory:
		return 1
	case EvParam:
		return 2
	case EvCapture:
		return 3
	case EvCPU:
		if strings.Contains(e.Text, "(panicking)") {
			return 4
		}
		return 5
	}
	return 6
}

// otherCPUs attaches what the non-panicking CPUs show, for those whose
// NMI-stop state matches want.
func (b *builder) otherCPUs(s *Step, want func(nmi bool) bool) {
	for _, c := range b.in.CPUs {
		if c.Panicking {
			continue
		}
		if st, nmi := otherCPUState(c); st != "" && want(nmi) {
			s.Evidence = append(s.Evidence, cpuEvidence(c, st))
		}
	}
}

func (b *builder) message() string {
	if b.msgLine != nil {
		msg, _ := printk.ParsePanicLine(b.msgLine.Text)
		return msg
	}
	return b.in.PanicMessage
}

// fillMembers sets notifier / dumper statuses from the step status.
func (b *builder) fillMembers(s *Step, fr frontier) {
	var ms []Member
	var ev map[int][]Evidence
	var list string
	var partial bool
	switch s.Step {
	case StepNotifiers:
		ms, ev, list, partial = b.in.Notifiers, b.notifierEv, "panic_notifier_list", b.in.NotifiersPartial
	case StepKmsgDump:
		ms, ev, list, partial = b.in.Dumpers, b.dumperEv, "dump_list", b.in.DumpersPartial
	default:
		return
	}
	if ms == nil {
		s.Note = joinNote(s.Note, list+" not read")
		return
	}
	if partial {
		s.Note = joinNote(s.Note, fmt.Sprintf("%s read only in part: the members after the first %d are not known", list, len(ms)))
	}
	if len(ms) == 0 {
		s.Note = joinNote(s.Note, list+" is empty: nothing to call")
		s.EmptyList = true
		return
	}
	out := make([]Member, len(ms))
	for i, m := range ms {
		m.Evidence = append(append([]Evidence(nil), m.Evidence...), ev[i]...)
		m.Status, m.Reason = "", ""
		out[i] = m
	}
	s.Members = out
	if s.Status != Ran && s.Status != Running {
		for i := range out {
			out[i].Status, out[i].Reason = s.Status, s.Reason
		}
		return
	}
	// kernel/printk/printk.c kmsg_dump(): if (reason > max_reason) continue;
	// max_reason KMSG_DUMP_UNDEF defaults to KMSG_DUMP_OOPS (KMSG_DUMP_MAX with
	// always_kmsg_dump), and KMSG_DUMP_PANIC is the lowest real reason, so
	// every registered dumper is called for a panic; only an unknown
	// max_reason leaves a dumper undecided.
	eligible := make([]bool, len(out))
	for i := range out {
		eligible[i] = true
		if s.Step == StepKmsgDump && out[i].MaxReason == nil {
			out[i].Status, out[i].Reason = Unknown, "max_reason unknown"
			eligible[i] = false
		}
	}
	running := -1
	if s.Status == Running && fr.member != "" {
		for i := range out {
			if out[i].Name == fr.member {
				running = i
				break
			}
		}
	}
	lastPrinted := -1
	for i := range out {
		if eligible[i] && len(ev[i]) > 0 {
			lastPrinted = i
		}
	}
	stepDone := s.Status == Ran && b.stepCompleted(s, fr)
	for i := range out {
		if !eligible[i] {
			continue
		}
		m := &out[i]
		switch {
		case running >= 0 && i == running && fr.faulted:
			m.Status, m.Reason = Running, "faulted in this callback: panic() stopped here"
			m.Evidence = append(m.Evidence, logEvidence(*b.faultLine))
		case running >= 0 && i == running:
			m.Status, m.Reason = Running, "the panicking CPU is in this callback"
		case running >= 0 && i > running:
			m.Status, m.Reason = NotReached, "the chain is still in "+out[running].Name
		case len(ev[i]) > 0:
			m.Status, m.Reason = Ran, "its log line"
		case i < lastPrinted || (running >= 0 && i < running):
			m.Status, m.Reason = Ran, "inferred: a later member ran"
		case stepDone:
			m.Status, m.Reason = Ran, "inferred: a later step ran (the chain stops early only on NOTIFY_STOP_MASK)"
			if s.Step == StepKmsgDump {
				m.Reason = "inferred: a later step ran (kmsg_dump() calls every dumper whose max_reason allows)"
			}
		default:
			m.Status, m.Reason = Unknown, "silent callback and no evidence that the call got past it"
		}
	}
}

// stepCompleted tells whether something after the step ran.
func (b *builder) stepCompleted(s *Step, fr frontier) bool {
	i := -1
	for j, d := range b.defs {
		if d.step == s.Step && d.slot == s.Slot {
			i = j
		}
	}
	if fr.ambiguous {
		return false
	}
	if fr.r >= 0 {
		return fr.r > i
	}
	return fr.furthest > i
}
