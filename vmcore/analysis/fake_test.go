package analysis_test

import (
	"bytes"
	"compress/flate"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/panicscope/panicscope/internal/fakeprog"
	"github.com/panicscope/panicscope/vmcore/analysis"
	"github.com/panicscope/panicscope/vmcore/target"
)

// These tests run analysis.Build on fake kernels (internal/fakeprog)
// written as ELF cores and opened like any dump, so they need no
// ../shared. They read the report through its JSON where a field's Go
// type is likely to change (unknown scalars, problems).

func build(t *testing.T, k *fakeprog.Kernel) *analysis.Report {
	t.Helper()
	p := filepath.Join(t.TempDir(), "vmcore")
	if err := k.WriteFile(p); err != nil {
		t.Fatal(err)
	}
	tg, err := target.Open(p, target.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tg.Close() })
	return analysis.Build(tg)
}

// field is the value at a dotted JSON path ("panic.cpu", "chains.0.name").
func field(t *testing.T, r *analysis.Report, path string) any {
	t.Helper()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	for _, p := range strings.Split(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			v = x[p]
		case []any:
			i, err := strconv.Atoi(p)
			if err != nil || i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

// problems is the report's problems as text, whatever their shape.
func problems(t *testing.T, r *analysis.Report) string {
	t.Helper()
	b, err := json.Marshal(r.Problems)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func callbacks(c analysis.Chain) []string {
	var out []string
	for _, e := range c.Entries {
		s := fmt.Sprintf("%s/%d", e.Callback, val(e.Priority))
		if e.Module != "" {
			s += "[" + e.Module + "]"
		}
		out = append(out, s)
	}
	return out
}

func chain(r *analysis.Report, name string) *analysis.Chain {
	for i := range r.Chains {
		if r.Chains[i].Name == name {
			return &r.Chains[i]
		}
	}
	return nil
}

// chainCut reports whether the report says the chain could not be read
// whole: a "broken" reason (schema 1) or "complete": false (schema 2).
func chainCut(t *testing.T, r *analysis.Report, name string) bool {
	t.Helper()
	for i := range r.Chains {
		if r.Chains[i].Name == name {
			p := fmt.Sprintf("chains.%d.", i)
			b, _ := field(t, r, p+"broken").(string)
			return b != "" || field(t, r, p+"complete") == false
		}
	}
	return false
}

func step(r *analysis.Report, name, slot string) map[string]any {
	for _, s := range r.Timeline {
		if string(s.Step) == name && (slot == "" || string(s.Slot) == slot) {
			b, _ := json.Marshal(s)
			var m map[string]any
			_ = json.Unmarshal(b, &m)
			return m
		}
	}
	return nil
}

func TestFakeKdumpReport(t *testing.T) {
	s := fakeprog.NewScenario()
	r := build(t, s.Kernel)

	if p := problems(t, r); p != "[]" && p != "null" {
		t.Errorf("problems on a complete fake kernel: %s", p)
	}
	if val(r.Identity.Release) != "6.1.0-fake-amd64" || r.Identity.Hostname != "fakehost" || r.Identity.CPUs != 2 {
		t.Errorf("identity: %+v", r.Identity)
	}
	if val(r.Panic.Message) != fakeprog.PanicMessage {
		t.Errorf("panic message %q, want %q", val(r.Panic.Message), fakeprog.PanicMessage)
	}
	if got := field(t, r, "panic.cpu"); got != float64(fakeprog.PanicCPU) {
		t.Errorf("panic cpu %v, want %d", got, fakeprog.PanicCPU)
	}
	if val(r.Panic.TaskComm) != "sh" || field(t, r, "panic.task_pid") != float64(121) {
		t.Errorf("panic task %v %q, want 121 sh", field(t, r, "panic.task_pid"), val(r.Panic.TaskComm))
	}
	if val(r.Panic.TaintMask) != 1<<12 || !strings.Contains(val(r.Panic.Taint), "O") {
		t.Errorf("taint %q %#x, want O", val(r.Panic.Taint), val(r.Panic.TaintMask))
	}
	if r.Kernel.Capture != analysis.CaptureKdump {
		t.Errorf("capture %q, want kdump (CRASHTIME is set)", r.Kernel.Capture)
	}
	p := r.Parameters
	if p.CrashKexecPostNotifiers == nil || *p.CrashKexecPostNotifiers || p.CrashKernelLoaded == nil || !*p.CrashKernelLoaded ||
		p.PanicOnOops == nil || *p.PanicOnOops != 1 || p.PanicTimeout == nil || *p.PanicTimeout != 0 {
		t.Errorf("parameters: %s", mustJSON(p))
	}

	// The chain in list order, module notifiers named with their module.
	c := chain(r, "panic_notifier_list")
	if c == nil {
		t.Fatalf("no panic_notifier_list in %v", r.Chains)
	}
	want := fmt.Sprintf("labfake_notify_first/%d[labfake] fake_panic_notify/0 labfake_notify_last/-1[labfake]", fakeprog.IntMax)
	if got := strings.Join(callbacks(*c), " "); got != want {
		t.Errorf("panic_notifier_list:\n got %s\nwant %s", got, want)
	}
	if rb := chain(r, "reboot_notifier_list"); rb == nil || strings.Join(callbacks(*rb), " ") != "fake_reboot_notify/0" {
		t.Errorf("reboot_notifier_list (a blocking_notifier_head): %+v", rb)
	}
	if dc := chain(r, "die_chain"); dc == nil || len(dc.Entries) != 0 {
		t.Errorf("die_chain should be read and empty: %+v", dc)
	}

	if len(r.Dumpers) != 1 || r.Dumpers[0].Callback != "labfake_kmsg_dump" || r.Dumpers[0].Module != "labfake" ||
		r.Dumpers[0].ReasonName != "KMSG_DUMP_OOPS" || !r.Dumpers[0].Registered {
		t.Errorf("dumpers: %s", mustJSON(r.Dumpers))
	}
	if r.Pstore == nil || val(r.Pstore.Backend) != "ramoops" || len(r.Pstore.Records) != 1 ||
		r.Pstore.Records[0].Title != "Panic#1 Part1" || !strings.Contains(r.Pstore.Records[0].Text, fakeprog.PanicLine) {
		t.Errorf("pstore: %s", mustJSON(r.Pstore))
	}
	if len(r.Consoles) != 1 || val(r.Consoles[0].Name) != "ttyS" || !val(r.Consoles[0].Enabled) {
		t.Errorf("consoles: %s", mustJSON(r.Consoles))
	}
	if len(r.Modules) != 1 || r.Modules[0].Name != "labfake" || r.Modules[0].Symbols != 4 || r.Modules[0].Taints != "O" {
		t.Errorf("modules: %s", mustJSON(r.Modules))
	}
	if r.Log.Records != 5 || r.Panic.Seq == nil || *r.Panic.Seq != 3 {
		t.Errorf("log: %+v, panic seq %v", r.Log, r.Panic.Seq)
	}

	if len(r.CPUs) != 2 {
		t.Fatalf("%d CPUs", len(r.CPUs))
	}
	pc := r.CPUs[fakeprog.PanicCPU]
	if pc.Role != analysis.RolePanicking || val(pc.TaskComm) != "sh" {
		t.Errorf("cpu 1: role %q task %q", pc.Role, val(pc.TaskComm))
	}
	// The walk goes through the module's own ORC table.
	wantStack := "__crash_kexec+0x10/0x100 panic+0x21/0x100 labfake_do_panic+0x22/0x100 [labfake] kthread+0x23/0x100 ret_from_fork+0x24/0x100"
	if got := strings.Join(pc.Stack, " "); got != wantStack {
		t.Errorf("cpu 1 stack:\n got %s\nwant %s", got, wantStack)
	}
	// CPU 0: the interrupted idle loop, and the crash NMI handler rebuilt
	// from its NMI stack.
	c0 := r.CPUs[0]
	if c0.Role != analysis.RoleCrashNMI || val(c0.TaskComm) != "swapper/0" {
		t.Errorf("cpu 0: role %q task %q", c0.Role, val(c0.TaskComm))
	}
	if !strings.Contains(c0.RoleWhy, "NMI stack still holds nmi_handle <- default_do_nmi <- exc_nmi <- asm_exc_nmi") {
		t.Errorf("cpu 0 role_why: %s", c0.RoleWhy)
	}
	if len(c0.Stack) < 5 || !strings.HasPrefix(c0.Stack[0], "? nmi_handle+") || !strings.Contains(strings.Join(c0.Stack, " "), "default_idle+0x10/0x100") {
		t.Errorf("cpu 0 stack: %v", c0.Stack)
	}

	// Timeline inputs: kdump ran first (crash_kexec_post_notifiers=N), so
	// the notifiers and dumpers were not reached; the members are the
	// chain's and dump_list's.
	if st := step(r, "crash_kexec", "before_notifiers"); st == nil || st["status"] != "running" {
		t.Errorf("crash_kexec before notifiers: %v", st)
	}
	n := step(r, "notifiers", "")
	if n == nil || n["status"] != "not_reached" {
		t.Fatalf("notifiers step: %v", n)
	}
	if got := mustJSON(n["members"]); !strings.Contains(got, "labfake_notify_first") || !strings.Contains(got, "fake_panic_notify") {
		t.Errorf("notifiers members: %s", got)
	}
	if d := step(r, "kmsg_dump", ""); d == nil || !strings.Contains(mustJSON(d["members"]), "labfake_kmsg_dump") {
		t.Errorf("kmsg_dump step: %v", d)
	}
	if r.Plan == nil || len(r.Plan.Steps) == 0 {
		t.Errorf("no plan")
	}
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

// notifier_chain_register() keeps a chain sorted by descending priority and
// notifier_call_chain() calls it from the head: the report lists entries in
// list order, whatever their priorities say.
func TestFakeChainListOrder(t *testing.T) {
	k := fakeprog.New("6.1.0-fake", 1)
	a, b, c := k.Func("notify_a"), k.Func("notify_b"), k.Func("notify_c")
	k.NotifierChain("panic_notifier_list", "atomic_notifier_head",
		fakeprog.Notifier{Callback: a, Priority: 200}, fakeprog.Notifier{Callback: b, Priority: 100}, fakeprog.Notifier{Callback: c, Priority: -5})
	// Priorities out of order in memory are still shown as the list has them.
	k.NotifierChain("die_chain", "atomic_notifier_head",
		fakeprog.Notifier{Callback: c, Priority: 1}, fakeprog.Notifier{Callback: a, Priority: 9})
	r := build(t, k)
	if got := strings.Join(callbacks(*chain(r, "panic_notifier_list")), " "); got != "notify_a/200 notify_b/100 notify_c/-5" {
		t.Errorf("panic_notifier_list: %s", got)
	}
	if got := strings.Join(callbacks(*chain(r, "die_chain")), " "); got != "notify_c/1 notify_a/9" {
		t.Errorf("die_chain: %s", got)
	}
	// Chains that do not exist in this kernel are problems, optional ones
	// (the split panic lists) are not.
	ps := problems(t, r)
	for _, want := range []string{"reboot_notifier_list", "restart_handler_list"} {
		if !strings.Contains(ps, want) {
			t.Errorf("no problem about the absent %s: %s", want, ps)
		}
	}
	if strings.Contains(ps, "panic_hypervisor_list") {
		t.Errorf("an optional chain is a problem: %s", ps)
	}
	if chain(r, "panic_hypervisor_list") != nil {
		t.Errorf("absent optional chain reported")
	}
	// The timeline's notifier members are the chain's, in order.
	n := step(r, "notifiers", "")
	got := mustJSON(n["members"])
	if ia, ib := strings.Index(got, "notify_a"), strings.Index(got, "notify_b"); ia < 0 || ib < ia {
		t.Errorf("timeline notifier members out of order: %s", got)
	}
}

// A chain whose last block points back at the first must stop, with the
// entries read so far and a problem naming the chain.
func TestFakeCyclicChainStops(t *testing.T) {
	s := fakeprog.NewScenario()
	s.SetNotifierNext(s.Blocks[len(s.Blocks)-1], s.Blocks[0])
	r := build(t, s.Kernel)
	c := chain(r, "panic_notifier_list")
	if c == nil {
		t.Fatal("no panic_notifier_list")
	}
	if !chainCut(t, r, "panic_notifier_list") {
		t.Errorf("a cyclic chain is reported whole: %s", mustJSON(c))
	}
	if len(c.Entries) < len(s.Blocks) || len(c.Entries) > 512 {
		t.Errorf("%d entries read from a 3-block cycle", len(c.Entries))
	}
	if !strings.Contains(problems(t, r), "panic_notifier_list") {
		t.Errorf("no problem names the chain: %s", problems(t, r))
	}
	// The other chains are unaffected.
	if rb := chain(r, "reboot_notifier_list"); rb == nil || len(rb.Entries) != 1 || chainCut(t, r, "reboot_notifier_list") {
		t.Errorf("reboot_notifier_list: %+v", rb)
	}
}

// A next pointer into memory the dump does not hold stops the walk there.
func TestFakeChainFault(t *testing.T) {
	s := fakeprog.NewScenario()
	s.SetNotifierNext(s.Blocks[0], fakeprog.Phys(fakeprog.MemSize-fakeprog.PageSize))
	r := build(t, s.Kernel)
	c := chain(r, "panic_notifier_list")
	if c == nil || len(c.Entries) != 1 || c.Entries[0].Callback != "labfake_notify_first" {
		t.Fatalf("chain: %s", mustJSON(c))
	}
	if !chainCut(t, r, "panic_notifier_list") {
		t.Errorf("a chain cut by a fault is reported whole")
	}
}

// Without the panic parameters nothing is guessed: each is unknown (nil)
// with a problem, and the panicking CPU is not claimed.
func TestFakeParametersAbsent(t *testing.T) {
	s := fakeprog.NewScenario(fakeprog.WithoutParams())
	r := build(t, s.Kernel)
	p := r.Parameters
	if p.CrashKexecPostNotifiers != nil || p.PanicTimeout != nil || p.PanicPrint != nil || p.PanicOnOops != nil ||
		p.PanicOnWarn != nil || p.CrashKernelLoaded != nil {
		t.Errorf("absent parameters read as values: %s", mustJSON(p))
	}
	ps := problems(t, r)
	for _, name := range []string{"crash_kexec_post_notifiers", "panic_timeout", "panic_print", "kexec_crash_image", "panic_cpu", "tainted_mask"} {
		if !strings.Contains(ps, name) {
			t.Errorf("no problem about %s", name)
		}
	}
	if cpu := field(t, r, "panic.cpu"); cpu == float64(fakeprog.PanicCPU) || cpu == float64(0) {
		t.Errorf("panic cpu %v without panic_cpu", cpu)
	}
	for _, c := range r.CPUs {
		if c.Role == analysis.RolePanicking {
			t.Errorf("cpu %d called panicking without panic_cpu", c.CPU)
		}
	}
	if val(r.Panic.Taint) == "Not tainted" {
		t.Errorf("taint %q without tainted_mask", val(r.Panic.Taint))
	}
	// The timeline cannot tell whether kdump ran before the notifiers.
	if st := step(r, "crash_kexec", "after_kmsg_dump"); st != nil && st["status"] == "skipped" {
		t.Errorf("crash_kexec after kmsg_dump skipped without crash_kexec_post_notifiers: %v", st)
	}
}

// panic_cpu = -1 (PANIC_CPU_INVALID): no CPU entered panic().
func TestFakeNoPanicCPU(t *testing.T) {
	k := fakeprog.New("6.1.0-fake", 1)
	k.SetPanicParams(fakeprog.PanicParams{PanicCPU: fakeprog.Ptr(-1)})
	r := build(t, k)
	if !strings.Contains(r.Panic.CPUSource, "PANIC_CPU_INVALID") {
		t.Errorf("cpu source %q", r.Panic.CPUSource)
	}
}

// crash_kexec_post_notifiers=Y: the notifiers and dumpers ran before kdump.
func TestFakePostNotifiers(t *testing.T) {
	s := fakeprog.NewScenario(fakeprog.WithoutParams())
	s.SetPanicParams(fakeprog.PanicParams{
		CrashKexecPostNotifiers: fakeprog.Ptr(true), CrashKernelLoaded: fakeprog.Ptr(true),
		PanicCPU: fakeprog.Ptr(fakeprog.PanicCPU), PanicTimeout: fakeprog.Ptr(5), PanicPrint: fakeprog.Ptr[uint64](1),
	})
	r := build(t, s.Kernel)
	if st := step(r, "crash_kexec", "before_notifiers"); st == nil || st["status"] != "skipped" {
		t.Errorf("crash_kexec before notifiers: %v", st)
	}
	if st := step(r, "notifiers", ""); st == nil || st["status"] != "ran" {
		t.Errorf("notifiers: %v", st)
	}
	if r.Parameters.PanicTimeout == nil || *r.Parameters.PanicTimeout != 5 {
		t.Errorf("panic_timeout %v", r.Parameters.PanicTimeout)
	}
}

func TestFakeDumpersAbsentAndEmpty(t *testing.T) {
	r := build(t, fakeprog.NewScenario(fakeprog.WithoutDumpers()).Kernel)
	if len(r.Dumpers) != 0 || !strings.Contains(problems(t, r), `"subject":"dumpers"`) {
		t.Errorf("no dump_list: dumpers %v problems %s", r.Dumpers, problems(t, r))
	}

	k := fakeprog.New("6.1.0-fake", 1)
	cb := k.Func("dump_a")
	cb2 := k.Func("dump_b")
	k.KmsgDumpers(fakeprog.Dumper{Callback: cb, MaxReason: 1, Registered: true}, fakeprog.Dumper{Callback: cb2, MaxReason: 5})
	r = build(t, k)
	if len(r.Dumpers) != 2 || r.Dumpers[0].Callback != "dump_a" || r.Dumpers[1].Callback != "dump_b" {
		t.Fatalf("dumpers: %s", mustJSON(r.Dumpers))
	}
	if r.Dumpers[0].ReasonName != "KMSG_DUMP_PANIC" || r.Dumpers[1].ReasonName != "KMSG_DUMP_MAX" || r.Dumpers[1].Registered {
		t.Errorf("dumpers: %s", mustJSON(r.Dumpers))
	}
}

func TestFakePstore(t *testing.T) {
	// No psinfo symbol at all: a problem, no section.
	r := build(t, fakeprog.NewScenario(fakeprog.WithoutPstore()).Kernel)
	if r.Pstore != nil || !strings.Contains(problems(t, r), "pstore") {
		t.Errorf("no psinfo: pstore %v problems %s", r.Pstore, problems(t, r))
	}

	// psinfo NULL: no backend registered, the common case; not a problem.
	s := fakeprog.NewScenario(fakeprog.WithoutPstore())
	s.NoPstore()
	r = build(t, s.Kernel)
	if r.Pstore != nil || strings.Contains(problems(t, r), "pstore") {
		t.Errorf("psinfo NULL: pstore %v problems %s", r.Pstore, problems(t, r))
	}

	// A compressed dmesg record (raw deflate, header ending in -C), a
	// console zone without the ramoops header, an empty zone.
	var z bytes.Buffer
	w, _ := flate.NewWriter(&z, flate.BestCompression)
	w.Write([]byte("Oops#1 Part1\nBUG: kernel NULL pointer dereference\n"))
	w.Close()
	s = fakeprog.NewScenario(fakeprog.WithoutPstore())
	s.Ramoops(0x800, "", "====1700000001.000002-C\n"+z.String(), "console output line\n")
	r = build(t, s.Kernel)
	if r.Pstore == nil || len(r.Pstore.Records) != 2 {
		t.Fatalf("pstore: %s", mustJSON(r.Pstore))
	}
	c := r.Pstore.Records[0]
	if !c.Compressed || c.Zone != 1 || c.Title != "Oops#1 Part1" || !strings.Contains(c.Text, "NULL pointer") {
		t.Errorf("compressed record: %s", mustJSON(c))
	}
	if p := r.Pstore.Records[1]; p.Compressed || p.Zone != 2 || p.Title != "console output line" || p.Header != "" {
		t.Errorf("headerless record: %s", mustJSON(p))
	}
}

// A running system: no saved registers, the capture is "live", and the
// parameters in memory are checked against /proc and /sys.
func TestFakeLiveReport(t *testing.T) {
	s := fakeprog.NewScenario()
	root := t.TempDir()
	if err := s.WriteLiveTree(root, map[string]string{
		"sys/devices/system/cpu/online":                           "0-1\n",
		"proc/sys/kernel/panic":                                   "0\n",
		"proc/sys/kernel/panic_on_oops":                           "1\n",
		"sys/module/kernel/parameters/crash_kexec_post_notifiers": "Y\n", // memory says N
		"sys/kernel/kexec_crash_loaded":                           "1\n",
		"sys/kernel/kexec_crash_size":                             "0\n",
		"proc/sys/kernel/tainted":                                 "4096\n",
	}); err != nil {
		t.Fatal(err)
	}
	tg, err := target.OpenLive(target.Options{LiveRoot: root})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	r := analysis.Build(tg)
	if r.Kernel.Capture != analysis.CaptureLive {
		t.Errorf("capture %q", r.Kernel.Capture)
	}
	if len(r.CPUs) != 2 {
		t.Fatalf("%d CPUs", len(r.CPUs))
	}
	for i, c := range r.CPUs {
		if regs := field(t, r, fmt.Sprintf("cpus.%d.regs", i)); c.Role != analysis.RoleRunning || regs != nil || val(c.IP) != "" {
			t.Errorf("cpu %d: role %q ip %q regs %v", c.CPU, c.Role, val(c.IP), regs)
		}
	}
	if val(r.CPUs[1].TaskComm) != "sh" {
		t.Errorf("cpu 1 current task %q", val(r.CPUs[1].TaskComm))
	}
	if r.Plan == nil {
		t.Fatal("no plan")
	}
	agree := map[string]bool{}
	for _, c := range r.Plan.Checks {
		agree[c.Name] = c.Agree
	}
	for name, want := range map[string]bool{"panic_timeout": true, "panic_on_oops": true, "crash_kexec_post_notifiers": false,
		"crash_kernel_loaded": true, "tainted_mask": true} {
		if got, ok := agree[name]; !ok || got != want {
			t.Errorf("check %s: agree %v (present %v), want %v", name, got, ok, want)
		}
	}
	var mismatch bool
	for _, w := range r.Plan.Warnings {
		if w.Code == analysis.WarnLiveMismatch && strings.Contains(w.Text, "crash_kexec_post_notifiers") {
			mismatch = true
		}
	}
	if !mismatch {
		t.Errorf("no live_mismatch warning: %s", mustJSON(r.Plan.Warnings))
	}
}

// 6.2+ lists consoles on console_list, an hlist through console.node.
func TestFakeConsoleList(t *testing.T) {
	k := fakeprog.New("6.6.0-fake", 1)
	const ct = "struct console"
	head := k.Data("console_list", 8, 8)
	node := k.Types().Offset(ct, "node")
	var prev uint64
	for i, name := range []string{"ttyS", "tty"} {
		c := k.Object(ct)
		k.PutString(c, name)
		k.Set(c, ct, "index", uint64(i))
		k.Set(c, ct, "flags", uint64(4*(1-i))) // the first enabled
		if prev == 0 {
			k.PutU64(head, c+node)
		} else {
			k.PutU64(prev+node, c+node)
		}
		prev = c
	}
	r := build(t, k)
	if len(r.Consoles) != 2 || val(r.Consoles[0].Name) != "ttyS" || !val(r.Consoles[0].Enabled) || val(r.Consoles[1].Name) != "tty" || val(r.Consoles[1].Enabled) {
		t.Errorf("consoles: %s", mustJSON(r.Consoles))
	}
	if strings.Contains(problems(t, r), "consoles") {
		t.Errorf("problems: %s", problems(t, r))
	}
}

// A QEMU dump-guest-memory capture of a kernel without a crash kernel:
// panic() ran to its final delay loop and stopped the other CPU.
func TestFakeHypervisorCapture(t *testing.T) {
	s := fakeprog.NewScenario(fakeprog.WithoutParams())
	s.Hypervisor, s.CrashTime = true, 0
	s.SetPanicParams(fakeprog.PanicParams{
		CrashKexecPostNotifiers: fakeprog.Ptr(false), CrashKernelLoaded: fakeprog.Ptr(false),
		PanicCPU: fakeprog.Ptr(fakeprog.PanicCPU), PanicTimeout: fakeprog.Ptr(0),
	})
	delay, stop := s.Func("delay_tsc"), s.Func("smp_stop_nmi_callback")
	f := s.Funcs
	s.SetCPU(0, s.IdleTask, 0, s.CallStack(s.IdleTask, f["stop_this_cpu"], stop, f["default_idle"], f["do_idle"], f["cpu_startup_entry"], f["start_secondary"]))
	s.SetCPU(1, s.PanicTask, 121, s.CallStack(s.PanicTask, delay, f["panic"], s.Mod.Func("labfake_do_panic"), f["kthread"], f["ret_from_fork"]))
	r := build(t, s.Kernel)
	if r.Kernel.Capture != analysis.CaptureHypervisor || r.Identity.Format != "elf (qemu dump-guest-memory)" {
		t.Errorf("capture %q format %q", r.Kernel.Capture, r.Identity.Format)
	}
	if r.CPUs[0].Role != analysis.RoleStopped || r.CPUs[1].Role != analysis.RolePanicking {
		t.Errorf("roles %q %q", r.CPUs[0].Role, r.CPUs[1].Role)
	}
	if regs := field(t, r, "cpus.1.regs.cr3"); regs == nil {
		t.Errorf("no CR3 from the QEMU note")
	}
	// No crash kernel: __crash_kexec() returned at once, and panic() went on
	// through the notifiers and dumpers to its end.
	for _, c := range []struct{ step, slot, status string }{
		{"crash_kexec", "before_notifiers", "skipped"},
		{"notifiers", "", "ran"},
		{"kmsg_dump", "", "ran"},
	} {
		if st := step(r, c.step, c.slot); st == nil || st["status"] != c.status {
			t.Errorf("%s %s: %v, want %s", c.step, c.slot, st, c.status)
		}
	}
}

// val is *p, or the zero value when p is nil (unknown).
func val[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
