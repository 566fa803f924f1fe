package analysis

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/panicscope/panicscope/vmcore/analysis/timeline"
	"github.com/panicscope/panicscope/vmcore/target"
)

// PlanAction is what a step of panic() would do.
type PlanAction string

// Plan actions.
const (
	PlanRuns       PlanAction = "runs"
	PlanSkipped    PlanAction = "skipped"     // reached, but its condition says no
	PlanNotReached PlanAction = "not_reached" // an earlier step does not return (kexec, reboot)
	PlanDepends    PlanAction = "depends"     // on a fact that could not be read
)

// Plan bases.
const (
	PlanBasisLive       = "live"       // what panic() would do if this machine panicked now
	PlanBasisConfigured = "configured" // the parameters and lists as they were in the dump
)

// Warning codes (stable; the text may change).
const (
	WarnPostNotifiersBeforeKdump = "post_notifiers_before_kdump"
	WarnNoCrashKernel            = "no_crash_kernel"
	WarnCrashKernelUnknown       = "crash_kernel_unknown"
	WarnPstoreNoPanic            = "pstore_no_panic"
	WarnDumpersSkippedByKdump    = "dumpers_skipped_by_kdump"
	WarnPanicTimeoutZero         = "panic_timeout_zero"
	WarnPanicPrint               = "panic_print"
	WarnModuleNotifierFirst      = "module_notifier_before_kdump"
	WarnLiveMismatch             = "live_mismatch"
)

// PlanResult is the ordered list of what panic() would do on this kernel
// with the parameters, notifiers and dumpers read, and what the 2022 review
// of the panic path (notifiers vs. kmsg_dump vs. kdump) would warn about.
type PlanResult struct {
	Basis    string        `json:"basis"` // PlanBasis*
	Summary  string        `json:"summary"`
	Model    string        `json:"panic_model"`
	ModelWhy string        `json:"panic_model_why"`
	Steps    []PlanStep    `json:"steps"`
	Warnings []PlanWarning `json:"warnings"`
	// Checks compares memory with what /proc and /sys say (live only).
	Checks []PlanCheck `json:"checks,omitempty"`
}

// PlanStep is one step of panic() in call order.
type PlanStep struct {
	Order    int               `json:"order"`
	Step     timeline.StepName `json:"step"`
	Slot     string            `json:"slot,omitempty"`
	Action   PlanAction        `json:"action"`
	Why      string            `json:"why"`
	Function string            `json:"function"`
	Source   string            `json:"source"`
	Note     string            `json:"note,omitempty"`
	Members  []PlanMember      `json:"members,omitempty"`
	// Actual is the same step's status in the dump's timeline (dumps only):
	// the configured plan next to what ran.
	Actual    timeline.Status `json:"actual,omitempty"`
	ActualWhy string          `json:"actual_why,omitempty"`
}

// PlanMember is one panic notifier or kmsg dumper.
type PlanMember struct {
	Name        string          `json:"name"`
	Module      string          `json:"module,omitempty"`
	ModuleTaint string          `json:"module_taint,omitempty"` // struct module.taints as letters
	Priority    *int            `json:"priority,omitempty"`
	MaxReason   *int            `json:"max_reason,omitempty"`
	Action      PlanAction      `json:"action"`
	Why         string          `json:"why,omitempty"`
	BeforeKdump bool            `json:"before_kdump"`     // runs before the crash kernel would start
	Actual      timeline.Status `json:"actual,omitempty"` // dumps: the member's status in the timeline
}

// PlanWarning is one finding about the configuration.
type PlanWarning struct {
	Code string `json:"code"`
	Text string `json:"text"`
}

// PlanCheck is one parameter as memory and as /proc or /sys show it.
type PlanCheck struct {
	Name   string `json:"name"`
	Memory string `json:"memory"`
	System string `json:"system"`
	Path   string `json:"path"`
	Agree  bool   `json:"agree"`
}

// KMSG_DUMP_* (include/linux/kmsg_dump.h).
const (
	kmsgDumpUndef = timeline.KmsgDumpUndef
	kmsgDumpPanic = timeline.KmsgDumpPanic
	kmsgDumpOops  = timeline.KmsgDumpOops
)

// pstoreFlagsDmesg is PSTORE_FLAGS_DMESG (include/linux/pstore.h): the
// backend takes kmsg dumps.
const pstoreFlagsDmesg = 1 << 0

// Plan says what panic() would do on r's kernel, in order, from r's
// parameters, panic_notifier_list and dump_list, with warnings. It is a pure
// function of r. For a dump the steps also carry what the timeline says
// actually ran (Actual).
func Plan(r *Report) PlanResult {
	p := r.Parameters
	res := PlanResult{Basis: PlanBasisConfigured, Steps: []PlanStep{}, Warnings: []PlanWarning{}}
	if r.Kernel.Capture == CaptureLive {
		res.Basis = PlanBasisLive
	}
	notifiers := findChain(r, "panic_notifier_list")
	in := timeline.Inputs{
		Release:           str(r.Kernel.Release),
		Arch:              r.Identity.Arch,
		Line:              r.Line, // the model the report already chose
		PostNotifiers:     p.CrashKexecPostNotifiers,
		CrashKernelLoaded: p.CrashKernelLoaded,
		PanicPrint:        p.PanicPrint,
		Capture:           timeline.CaptureLive, // no panic evidence: the bare model in order
	}
	if p.PanicTimeout != nil {
		v := int(*p.PanicTimeout)
		in.PanicTimeout = &v
	}
	// The lists as read (nil = not read), so the model's notes match.
	if notifiers != nil {
		in.Notifiers = []timeline.Member{}
		for _, e := range notifiers.Entries {
			in.Notifiers = append(in.Notifiers, timeline.Member{Name: e.Callback, Module: e.Module})
		}
	}
	in.Dumpers = r.dumperMembers()
	in.DumpersPartial = in.Dumpers != nil && !r.DumpersComplete
	if notifiers != nil {
		in.NotifiersPartial = !notifiers.Complete
	}
	line, steps := timeline.Build(in)
	res.Model = line
	res.ModelWhy = r.LineWhy
	if res.ModelWhy == "" {
		_, res.ModelWhy = timeline.Line(in.Release, nil)
	}

	taints := map[string]string{}
	for _, m := range r.Modules {
		taints[m.Name] = m.Taints
	}
	post, loaded := p.CrashKexecPostNotifiers, p.CrashKernelLoaded
	kdumpAfterNotifiers := isTrue(post) && isTrue(loaded)
	ended := ""           // why later steps are not reached
	kdumpUnknown := false // a crash_kexec that may or may not take over came before
	for i, s := range steps {
		ps := PlanStep{Order: i + 1, Step: s.Step, Slot: s.Slot, Function: s.Function, Source: s.Source, Note: s.Note}
		ps.Action, ps.Why = stepAction(s, r, notifiers)
		switch {
		case ended != "":
			ps.Action, ps.Why = PlanNotReached, ended
		case kdumpUnknown && ps.Action == PlanRuns:
			ps.Action, ps.Why = PlanDepends, "only if no crash kernel takes over earlier ("+ps.Why+")"
		}
		if s.Step == timeline.StepCrashKexec && ps.Action == PlanDepends {
			kdumpUnknown = true
		}
		if ended == "" && ps.Action == PlanRuns {
			switch s.Step {
			case timeline.StepCrashKexec:
				ended = "the crash kernel took over in __crash_kexec(): machine_kexec() does not return"
			case timeline.StepRestart:
				ended = "emergency_restart() reboots the machine"
			}
		}
		switch s.Step {
		case timeline.StepNotifiers:
			if notifiers != nil {
				for _, e := range notifiers.Entries {
					ps.Members = append(ps.Members, PlanMember{Name: e.Callback, Module: e.Module, ModuleTaint: taints[e.Module],
						Priority: e.Priority, Action: ps.Action, BeforeKdump: kdumpAfterNotifiers && ps.Action == PlanRuns})
				}
			}
		case timeline.StepKmsgDump:
			for _, d := range r.Dumpers {
				ps.Members = append(ps.Members, dumperMember(d, ps, taints, kdumpAfterNotifiers))
			}
		}
		if a := actualStep(r, s.Step, s.Slot); a != nil && res.Basis == PlanBasisConfigured {
			ps.Actual, ps.ActualWhy = a.Status, a.Reason
			for i := range ps.Members {
				if i < len(a.Members) && a.Members[i].Name == ps.Members[i].Name {
					ps.Members[i].Actual = a.Members[i].Status
				}
			}
		}
		res.Steps = append(res.Steps, ps)
	}
	res.Warnings = planWarnings(r, notifiers)
	res.Summary = planSummary(res)
	return res
}

func isTrue(b *bool) bool  { return b != nil && *b }
func isFalse(b *bool) bool { return b != nil && !*b }

// stepAction turns the model's condition of a step into what the plan says
// it would do; the plan adds only wording for steps that act. The
// conditions themselves (crash kernel loaded, post notifiers, panic_print
// bits per kernel line, panic_timeout) live in the timeline model.
func stepAction(s timeline.Step, r *Report, notifiers *Chain) (PlanAction, string) {
	switch s.Condition.State {
	case timeline.CondInactive:
		return PlanSkipped, s.Condition.Why
	case timeline.CondUnknown:
		return PlanDepends, s.Condition.Why
	}
	why := s.Condition.Why
	switch s.Step {
	case timeline.StepMessage:
		why = `pr_emerg("Kernel panic - not syncing: ..."), dump_stack() unless the panic comes from an oops`
	case timeline.StepCrashKexec:
		how := "by NMI"
		if r.Identity.Arch == "aarch64" {
			how = "by IPI (IPI_CPU_CRASH_STOP)"
		}
		why = "a crash kernel is loaded: machine_crash_shutdown() stops the other CPUs " + how + ", then machine_kexec() boots it to capture the vmcore"
	case timeline.StepStopCPUs:
		why = joinWhy("stops the other CPUs: "+s.Function, why)
	case timeline.StepNotifiers:
		switch {
		case notifiers == nil:
			return PlanDepends, "panic_notifier_list not read"
		case len(notifiers.Entries) == 0:
			return PlanRuns, "panic_notifier_list is empty: nothing to call"
		}
		why = fmt.Sprintf("%d callbacks in priority order", len(notifiers.Entries))
		if !notifiers.Complete {
			why += " (panic_notifier_list read only in part: " + notifiers.Broken + ")"
		}
	case timeline.StepKmsgDump:
		switch {
		case len(r.Dumpers) == 0 && !r.DumpersComplete:
			return PlanDepends, "dump_list not read"
		case len(r.Dumpers) == 0:
			return PlanRuns, "dump_list is empty: nothing to call"
		}
		why = plural(len(r.Dumpers), "kmsg dumper") + ", each if KMSG_DUMP_PANIC <= its max_reason"
		if !r.DumpersComplete {
			why += " (dump_list read only in part)"
		}
	case timeline.StepConsoleFlush:
		why = "console_unblank(); console_flush_on_panic(): pending messages reach the consoles"
	case timeline.StepEnd:
		why = "prints the end line and spins in the final loop: the machine hangs until reset"
	}
	return PlanRuns, why
}

func joinWhy(a, b string) string {
	if b == "" {
		return a
	}
	return a + "; " + b
}

func printBitNames(bits uint64) string {
	names := []struct {
		bit  uint64
		name string
	}{{0x01, "show_state()"}, {0x02, "show_mem()"}, {0x04, "sysrq_timer_list_show()"}, {0x08, "debug_show_all_locks()"},
		{0x10, "ftrace_dump()"}, {0x20, "console replay (CONSOLE_REPLAY_ALL)"}, {0x40, "all-CPU backtrace"}, {0x80, "blocked tasks"}}
	var out []string
	for _, n := range names {
		if bits&n.bit != 0 {
			out = append(out, n.name)
		}
	}
	return strings.Join(out, ", ")
}

// effectiveMaxReason is kmsg_dump()'s default: KMSG_DUMP_UNDEF means
// KMSG_DUMP_OOPS (kernel/printk/printk.c, without always_kmsg_dump).
func effectiveMaxReason(mr int) int {
	if mr == kmsgDumpUndef {
		return kmsgDumpOops
	}
	return mr
}

func dumperMember(d Dumper, step PlanStep, taints map[string]string, beforeKdump bool) PlanMember {
	m := PlanMember{Name: d.Callback, Module: d.Module, ModuleTaint: taints[d.Module], Action: step.Action, MaxReason: d.MaxReason}
	if step.Action != PlanRuns {
		return m
	}
	switch {
	case !d.Registered:
		m.Action, m.Why = PlanSkipped, "not registered"
	case d.MaxReason == nil:
		m.Action, m.Why = PlanDepends, "max_reason unknown"
	case kmsgDumpPanic > effectiveMaxReason(*d.MaxReason):
		m.Action, m.Why = PlanSkipped, fmt.Sprintf("max_reason=%d excludes KMSG_DUMP_PANIC", *d.MaxReason)
	default:
		m.Why = fmt.Sprintf("max_reason=%s includes KMSG_DUMP_PANIC", reasonName(d))
		m.BeforeKdump = beforeKdump
	}
	return m
}

func reasonName(d Dumper) string {
	if d.MaxReason == nil {
		return "unknown"
	}
	if d.ReasonName != "" {
		if *d.MaxReason == kmsgDumpUndef {
			return d.ReasonName + " (default KMSG_DUMP_OOPS)"
		}
		return d.ReasonName
	}
	return strconv.Itoa(*d.MaxReason)
}

func actualStep(r *Report, step timeline.StepName, slot string) *timeline.Step {
	for i := range r.Timeline {
		if r.Timeline[i].Step == step && r.Timeline[i].Slot == slot {
			return &r.Timeline[i]
		}
	}
	return nil
}

func memberList(names []string) string {
	const maxNames = 8
	if len(names) > maxNames {
		return strings.Join(names[:maxNames], ", ") + fmt.Sprintf(" and %d more", len(names)-maxNames)
	}
	return strings.Join(names, ", ")
}

func withModule(name, module string) string {
	if module == "" {
		return name
	}
	return name + " [" + module + "]"
}

// planWarnings are the findings of the 2022 panic-path review (notifiers vs.
// kmsg_dump vs. kdump) applied to this configuration.
func planWarnings(r *Report, notifiers *Chain) []PlanWarning {
	p := r.Parameters
	post, loaded := p.CrashKexecPostNotifiers, p.CrashKernelLoaded
	var w []PlanWarning
	add := func(code, format string, args ...any) {
		w = append(w, PlanWarning{Code: code, Text: fmt.Sprintf(format, args...)})
	}
	var nNames []string
	if notifiers != nil {
		for _, e := range notifiers.Entries {
			nNames = append(nNames, withModule(e.Callback, e.Module))
		}
	}
	var dNames []string
	for _, d := range r.Dumpers {
		if d.Registered {
			dNames = append(dNames, withModule(d.Callback, d.Module))
		}
	}
	switch {
	case isTrue(loaded) && isTrue(post):
		text := fmt.Sprintf("kdump loaded but crash_kexec_post_notifiers=Y: %s and %s run before the crash kernel", plural(len(nNames), "notifier"), plural(len(dNames), "kmsg dumper"))
		var all []string
		all = append(all, nNames...)
		all = append(all, dNames...)
		if len(all) > 0 {
			text += " (" + memberList(all) + ")"
		}
		add(WarnPostNotifiersBeforeKdump, "%s; any of them can hang or fault on a broken kernel and the vmcore is lost", text)
	case isFalse(loaded):
		text := "no crash kernel loaded (kexec_crash_image=NULL): a vmcore will not be captured"
		if isTrue(post) {
			text += "; crash_kexec_post_notifiers=Y has no effect without one"
		}
		add(WarnNoCrashKernel, "%s", text)
	case loaded == nil:
		add(WarnCrashKernelUnknown, "kexec_crash_image could not be read: whether a crash kernel would capture a vmcore is unknown")
	}
	if isTrue(loaded) && isFalse(post) && len(dNames) > 0 {
		add(WarnDumpersSkippedByKdump, "crash_kexec_post_notifiers=N: the crash kernel starts before kmsg_dump, so %s (%s) %s not run when kdump succeeds", plural(len(dNames), "kmsg dumper"), memberList(dNames), map[bool]string{true: "does", false: "do"}[len(dNames) == 1])
	}
	if ps := r.Pstore; ps != nil {
		name := str(ps.Backend)
		if name == "" {
			name = "(name unreadable)"
		}
		var pd *Dumper
		for i := range r.Dumpers {
			if funcName(r.Dumpers[i].Callback) == "pstore_dump" {
				pd = &r.Dumpers[i]
			}
		}
		switch {
		case ps.Flags != nil && *ps.Flags&pstoreFlagsDmesg == 0:
			add(WarnPstoreNoPanic, "pstore backend %s registered without the dmesg front-end (flags %#x lack PSTORE_FLAGS_DMESG): panics are not saved to pstore", name, *ps.Flags)
		case pd == nil && r.DumpersComplete:
			add(WarnPstoreNoPanic, "pstore backend %s registered but pstore_dump is not on dump_list: panics are not saved to pstore", name)
		case pd != nil && !pd.Registered:
			add(WarnPstoreNoPanic, "pstore backend %s: its kmsg dumper is not registered: panics are not saved to pstore", name)
		case pd != nil && pd.MaxReason != nil && kmsgDumpPanic > effectiveMaxReason(*pd.MaxReason):
			add(WarnPstoreNoPanic, "pstore registered but max_reason=%d excludes panics (KMSG_DUMP_PANIC=%d)", *pd.MaxReason, kmsgDumpPanic)
		}
	}
	if t := p.PanicTimeout; t != nil && *t == 0 {
		text := "panic_timeout=0: the machine will hang instead of rebooting"
		if isTrue(loaded) {
			text += " if the crash kernel does not start"
		}
		add(WarnPanicTimeoutZero, "%s", text)
	}
	if pp := p.PanicPrint; pp != nil && *pp != 0 {
		what := printBitNames(*pp)
		switch {
		case isTrue(loaded) && isFalse(post):
			add(WarnPanicPrint, "panic_print=%#x set (%s) but the crash kernel starts before it is acted on", *pp, what)
		case isTrue(loaded):
			add(WarnPanicPrint, "panic_print=%#x set: extra output (%s) before kdump, after the notifiers; it delays the crash kernel", *pp, what)
		default:
			add(WarnPanicPrint, "panic_print=%#x set: extra output (%s) after the notifiers, before kmsg_dump", *pp, what)
		}
	}
	if notifiers != nil && isTrue(loaded) && isTrue(post) {
		taints := map[string]string{}
		for _, m := range r.Modules {
			taints[m.Name] = m.Taints
		}
		for _, e := range notifiers.Entries {
			if e.Module == "" {
				continue
			}
			if t := taints[e.Module]; t != "" {
				add(WarnModuleNotifierFirst, "notifier %s from module %s (taint %s: %s) runs before kdump", e.Callback, e.Module, t, taintWords(t))
			}
		}
	}
	return w
}

// taintWords explains module taint letters (include/linux/panic.h).
func taintWords(letters string) string {
	words := map[rune]string{'P': "proprietary", 'O': "out-of-tree", 'E': "unsigned", 'C': "staging", 'F': "force-loaded", 'X': "auxiliary", 'T': "struct randomization"}
	var out []string
	for _, c := range letters {
		if w, ok := words[c]; ok {
			out = append(out, w)
		}
	}
	if len(out) == 0 {
		return "tainting"
	}
	return strings.Join(out, ", ")
}

func planSummary(p PlanResult) string {
	var runs []string
	for _, s := range p.Steps {
		if s.Action == PlanRuns || s.Action == PlanDepends {
			n := string(s.Step)
			if s.Step == timeline.StepCrashKexec {
				n = "kdump"
			}
			if s.Action == PlanDepends {
				n += "?"
			}
			runs = append(runs, n)
		}
	}
	lead := "if this machine panicked now: "
	if p.Basis == PlanBasisConfigured {
		lead = "as configured in the dump: "
	}
	return lead + strings.Join(runs, " → ")
}

// buildPlan fills module taints, computes the plan and, on a live system,
// checks memory against /proc and /sys.
func buildPlan(t *target.Target, r *Report) {
	if t.Kernel != nil && t.Kernel.Types != nil {
		for i := range r.Modules {
			if i < len(t.Modules) && t.Modules[i].Name == r.Modules[i].Name {
				r.Modules[i].Taints = moduleTaints(t, t.Modules[i].Addr)
			}
		}
	}
	p := Plan(r)
	if t.Live != nil {
		p.Checks = liveChecks(t.Live, r)
		for _, c := range p.Checks {
			if !c.Agree {
				p.Warnings = append(p.Warnings, PlanWarning{Code: WarnLiveMismatch,
					Text: fmt.Sprintf("%s: memory says %s, %s says %s (changed while reading?)", c.Name, c.Memory, c.Path, c.System)})
			}
		}
		if v, ok := t.Live.Get("kexec_crash_size"); ok && v == "0" {
			for i := range p.Warnings {
				if p.Warnings[i].Code == WarnNoCrashKernel {
					p.Warnings[i].Text += "; no memory is reserved for one (/sys/kernel/kexec_crash_size=0: boot with crashkernel=)"
				}
			}
		}
	}
	r.Plan = &p
}

// moduleTaints reads struct module.taints (kernel/module/main.c
// add_taint_module()) as letters.
func moduleTaints(t *target.Target, addr uint64) string {
	m, err := t.Kernel.Object(addr, "struct module")
	if err != nil {
		return ""
	}
	v, err := memberUint(m, "taints")
	if err != nil || v == 0 {
		return ""
	}
	var b strings.Builder
	for _, f := range taintFlags {
		if v&(1<<f.bit) != 0 {
			b.WriteByte(f.char)
		}
	}
	return b.String()
}

// liveChecks compares parameters read from memory with /proc and /sys.
func liveChecks(s *target.LiveState, r *Report) []PlanCheck {
	p := r.Parameters
	var out []PlanCheck
	add := func(name, file, mem string, norm func(string) string) {
		if mem == "" {
			return
		}
		v, ok := s.Get(file)
		if !ok {
			return
		}
		path := ""
		for _, lv := range s.Values {
			if lv.Name == file {
				path = lv.Path
			}
		}
		if norm != nil {
			v = norm(v)
		}
		out = append(out, PlanCheck{Name: name, Memory: mem, System: v, Path: path, Agree: v == mem})
	}
	i64 := func(v *int64) string {
		if v == nil {
			return ""
		}
		return strconv.FormatInt(*v, 10)
	}
	yn := func(b *bool, y, n string) string {
		if b == nil {
			return ""
		}
		if *b {
			return y
		}
		return n
	}
	add("panic_timeout", "panic", i64(p.PanicTimeout), nil)
	if p.PanicPrint != nil {
		add("panic_print", "panic_print", strconv.FormatUint(*p.PanicPrint, 10), nil)
	}
	add("panic_on_oops", "panic_on_oops", i64(p.PanicOnOops), nil)
	add("panic_on_warn", "panic_on_warn", i64(p.PanicOnWarn), nil)
	add("crash_kexec_post_notifiers", "crash_kexec_post_notifiers", yn(p.CrashKexecPostNotifiers, "Y", "N"), nil)
	add("crash_kernel_loaded", "kexec_crash_loaded", yn(p.CrashKernelLoaded, "1", "0"), nil)
	if r.Panic.TaintMask != nil {
		add("tainted_mask", "tainted", strconv.FormatUint(*r.Panic.TaintMask, 10), nil)
	}
	return out
}

// plural is "1 kmsg dumper", "2 kmsg dumpers".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
