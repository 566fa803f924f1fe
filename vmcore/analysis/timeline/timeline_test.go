package timeline

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

var allLines = []string{Line510, Line61, Line61Stable, Line612, Line619}

// key names a step by name and slot.
func key(s Step) string {
	if s.Slot == "" {
		return string(s.Step)
	}
	return string(s.Step) + "/" + s.Slot
}

const (
	kMsg     = "message"
	kPre     = "crash_kexec/before_notifiers"
	kStopK   = "stop_cpus"
	kNotif   = "notifiers"
	kInfo    = "panic_print/sys_info"
	kKmsgK   = "kmsg_dump"
	kPost    = "crash_kexec/after_kmsg_dump"
	kCons    = "console_flush"
	kReplay  = "panic_print/console_replay"
	kPP510   = "panic_print"
	kRestrt  = "restart"
	kEndK    = "end"
	anyPrint = "panic_print*" // the 5.10 single slot or both 6.1+ slots
)

// order is the step order each line's panic() runs in.
func order(line string) []string {
	if line == Line510 {
		// Debian 5.10.223 kernel/panic.c: panic_print_sys_info() after console_flush_on_panic()
		return []string{kMsg, kPre, kStopK, kNotif, kKmsgK, kPost, kCons, kPP510, kRestrt, kEndK}
	}
	// 6.1+: panic_print_sys_info(false) before kmsg_dump, (true) after the console flush
	return []string{kMsg, kPre, kStopK, kNotif, kInfo, kKmsgK, kPost, kCons, kReplay, kRestrt, kEndK}
}

type want struct {
	status Status
	reason string // substring; "" = not checked
}

func find(t *testing.T, steps []Step, k string) Step {
	t.Helper()
	for _, s := range steps {
		if key(s) == k {
			return s
		}
	}
	t.Fatalf("no step %s in %v", k, keys(steps))
	return Step{}
}

func keys(steps []Step) []string {
	var k []string
	for _, s := range steps {
		k = append(k, key(s))
	}
	return k
}

// check verifies the order for the line and the wanted statuses/reasons; a
// key anyPrint applies to every panic_print step.
func check(t *testing.T, line string, steps []Step, w map[string]want) {
	t.Helper()
	if got, exp := keys(steps), order(line); !reflect.DeepEqual(got, exp) {
		t.Fatalf("order:\n got %v\nwant %v", got, exp)
	}
	for _, s := range steps {
		wk, ok := w[key(s)]
		if !ok && s.Step == StepPanicPrint {
			wk, ok = w[anyPrint]
		}
		if !ok {
			t.Errorf("%s: no expectation (status %s, reason %q)", key(s), s.Status, s.Reason)
			continue
		}
		if s.Status != wk.status {
			t.Errorf("%s: status %s, want %s (reason %q)", key(s), s.Status, wk.status, s.Reason)
		}
		if !strings.Contains(s.Reason, wk.reason) {
			t.Errorf("%s: reason %q, want it to contain %q", key(s), s.Reason, wk.reason)
		}
	}
}

// checkMembers verifies member statuses (in order) and reason substrings.
func checkMembers(t *testing.T, s Step, statuses []Status, reasons map[string]string) {
	t.Helper()
	if len(s.Members) != len(statuses) {
		t.Fatalf("%s: %d members, want %d", key(s), len(s.Members), len(statuses))
	}
	for i, m := range s.Members {
		if m.Status != statuses[i] {
			t.Errorf("%s member %s: status %s, want %s (reason %q)", key(s), m.Name, m.Status, statuses[i], m.Reason)
		}
		if r, ok := reasons[m.Name]; ok && !strings.Contains(m.Reason, r) {
			t.Errorf("%s member %s: reason %q, want %q", key(s), m.Name, m.Reason, r)
		}
	}
}

func hasEvidence(s Step, kind EvidenceKind, text string) bool {
	for _, e := range s.Evidence {
		if e.Kind == kind && strings.Contains(e.Text, text) {
			return true
		}
	}
	return false
}

func rep(n int, s Status) []Status {
	out := make([]Status, n)
	for i := range out {
		out[i] = s
	}
	return out
}

// kdump WITHOUT crash_kexec_post_notifiers (kdump-6.1-lzo): __crash_kexec ran
// first and the dump was taken inside it.
func TestKdumpFirst(t *testing.T) {
	const first = "kdump (__crash_kexec) ran first: crash_kexec_post_notifiers=N"
	for _, line := range allLines {
		t.Run(line, func(t *testing.T) {
			got, steps := Build(asLine(kdumpLzo(), line))
			if got != line {
				t.Fatalf("line %s, want %s", got, line)
			}
			check(t, line, steps, map[string]want{
				kMsg:     {Ran, ""},
				kPre:     {Running, "capture=kdump"},
				kStopK:   {NotReached, first},
				kNotif:   {NotReached, first},
				kKmsgK:   {NotReached, first},
				kPost:    {Skipped, "crash_kexec_post_notifiers=N"},
				kCons:    {NotReached, first},
				anyPrint: {NotReached, first},
				kRestrt:  {NotReached, first},
				kEndK:    {NotReached, first},
			})
			pre := find(t, steps, kPre)
			if !hasEvidence(pre, EvCapture, "kdump") {
				t.Errorf("crash_kexec: no capture evidence: %+v", pre.Evidence)
			}
			if !hasEvidence(pre, EvCPU, "cpu 1 (panicking): machine_kexec < __crash_kexec < "+map[bool]string{true: "vpanic", false: "panic"}[line == Line619]) {
				t.Errorf("crash_kexec: no machine_kexec frame: %+v", pre.Evidence)
			}
			if !hasEvidence(pre, EvCPU, "crash_nmi_callback") {
				t.Errorf("crash_kexec: the NMI-stopped CPU belongs here: %+v", pre.Evidence)
			}
			stop := find(t, steps, kStopK)
			if hasEvidence(stop, EvCPU, "crash_nmi_callback") || !strings.Contains(stop.Note, "machine_crash_shutdown") {
				t.Errorf("stop_cpus: evidence %+v note %q", stop.Evidence, stop.Note)
			}
			checkMembers(t, find(t, steps, kNotif), rep(9, NotReached), map[string]string{"labpanic_notify_first": first})
			checkMembers(t, find(t, steps, kKmsgK), []Status{NotReached}, map[string]string{"labpanic_kmsg_dump": first})
			if ev := find(t, steps, kMsg).Evidence; len(ev) != 1 || *ev[0].Seq != 395 || *ev[0].TimestampNS != 4121886000 {
				t.Errorf("message evidence %+v", ev)
			}
		})
	}
}

// kdump WITH crash_kexec_post_notifiers (kdump-6.1-zlib-postnotifiers).
func TestKdumpPostNotifiers(t *testing.T) {
	const after = "kdump (__crash_kexec) ran after kmsg_dump: crash_kexec_post_notifiers=Y"
	for _, line := range allLines {
		t.Run(line, func(t *testing.T) {
			_, steps := Build(asLine(kdumpPost(), line))
			w := map[string]want{
				kMsg:    {Ran, ""},
				kPre:    {Skipped, "crash_kexec_post_notifiers=Y"},
				kStopK:  {Ran, ""},
				kNotif:  {Ran, ""},
				kInfo:   {Skipped, "panic_print=0"},
				kKmsgK:  {Ran, ""},
				kPost:   {Running, "capture=kdump"},
				kCons:   {NotReached, after},
				kReplay: {NotReached, after},
				kPP510:  {NotReached, after},
				kRestrt: {NotReached, after},
				kEndK:   {NotReached, after},
			}
			check(t, line, steps, w)
			stop := find(t, steps, kStopK)
			if !strings.Contains(stop.Function, "crash_smp_send_stop") || !hasEvidence(stop, EvCPU, "crash_nmi_callback") {
				t.Errorf("stop_cpus: function %q evidence %+v", stop.Function, stop.Evidence)
			}
			if (line == Line510 || line == Line61) == strings.Contains(stop.Function, "panic_other_cpus_shutdown") {
				t.Errorf("%s stop_cpus function %q", line, stop.Function)
			}
			n := find(t, steps, kNotif)
			checkMembers(t, n, rep(9, Ran), map[string]string{
				"pvpanic_panic_notify":       "inferred: a later member ran",
				"labpanic_notify_first":      "log line",
				"trace_panic_handler":        "inferred: a later member ran",
				"labpanic_notify_loud":       "log line",
				"rcu_panic":                  "inferred: a later member ran",
				"dump_kernel_offset":         "log line",
				"led_trigger_panic_notifier": "inferred: a later step ran",
				"labpanic_notify_silent":     "inferred: a later step ran",
			})
			ko := n.Members[6]
			if len(ko.Evidence) != 1 || !strings.HasPrefix(ko.Evidence[0].Text, "Kernel Offset: 0x29200000") || *ko.Evidence[0].Seq != 420 {
				t.Errorf("dump_kernel_offset evidence %+v", ko.Evidence)
			}
			k := find(t, steps, kKmsgK)
			checkMembers(t, k, []Status{Ran}, map[string]string{"labpanic_kmsg_dump": "log line"})
			if e := k.Members[0].Evidence; len(e) != 1 || e[0].Text != "labpanic: kmsg_dump callback reason=Panic" {
				t.Errorf("dumper evidence %+v", e)
			}
			wantFn := map[bool]string{true: "kmsg_dump_desc", false: "kmsg_dump"}[line == Line612 || line == Line619]
			if k.Function != wantFn {
				t.Errorf("kmsg_dump function %q, want %q", k.Function, wantFn)
			}
			if !strings.Contains(find(t, steps, kPost).Note, "already stopped") {
				t.Errorf("post crash_kexec note %q", find(t, steps, kPost).Note)
			}
		})
	}
}

// QEMU dump after the panic finished, no crash kernel: the CPU spins in the
// final loop.
func TestHypervisorFinished(t *testing.T) {
	const noImage = "no crash kernel loaded (kexec_crash_image=NULL)"
	cases := []struct {
		line string
		in   Inputs
		n    int // notifiers
	}{
		{Line510, qemuSysrq510(), 6},
		{Line61, asLine(qemuSysrq61(), Line61), 6},
		{Line61Stable, qemuSysrq61(), 6},
		{Line612, qemuSysrq612(), 6},
		{Line619, asLine(qemuSysrq612(), Line619), 6},
	}
	for _, c := range cases {
		t.Run(c.line, func(t *testing.T) {
			got, steps := Build(c.in)
			if got != c.line {
				t.Fatalf("line %s", got)
			}
			check(t, c.line, steps, map[string]want{
				kMsg:     {Ran, ""},
				kPre:     {Skipped, noImage},
				kStopK:   {Ran, ""},
				kNotif:   {Ran, ""},
				kKmsgK:   {Ran, ""},
				kPost:    {Skipped, noImage},
				kCons:    {Ran, ""},
				anyPrint: {Skipped, "panic_print=0"},
				kRestrt:  {Skipped, "panic_timeout=0: no reboot"},
				kEndK:    {Running, "final loop"},
			})
			if r := find(t, steps, kPost).Reason; !strings.Contains(r, "crash_kexec_post_notifiers=N") {
				t.Errorf("post slot reason %q", r)
			}
			end := find(t, steps, kEndK)
			if !hasEvidence(end, EvLog, "---[ end Kernel panic - not syncing: sysrq triggered crash ]---") || !hasEvidence(end, EvCPU, "(panicking)") {
				t.Errorf("end evidence %+v", end.Evidence)
			}
			n := find(t, steps, kNotif)
			st := rep(c.n, Ran)
			checkMembers(t, n, st, map[string]string{"dump_kernel_offset": "log line", "rcu_panic": "inferred: a later member ran",
				"led_trigger_panic_notifier": "inferred: a later step ran"})
			k := find(t, steps, kKmsgK)
			if len(k.Members) != 0 || !strings.Contains(k.Note, "dump_list is empty") {
				t.Errorf("kmsg_dump members %+v note %q", k.Members, k.Note)
			}
		})
	}
}

// qemu-6.1-lp-panic: every notifier and the labpanic dumper ran.
func TestHypervisorLabpanic(t *testing.T) {
	for _, line := range allLines {
		t.Run(line, func(t *testing.T) {
			_, steps := Build(asLine(qemuLpPanic(), line))
			checkMembers(t, find(t, steps, kNotif), rep(9, Ran), map[string]string{
				"labpanic_notify_silent": "inferred: a later step ran", "labpanic_notify_loud": "log line"})
			checkMembers(t, find(t, steps, kKmsgK), []Status{Ran}, nil)
			stop := find(t, steps, kStopK)
			if stop.Status != Ran || !hasEvidence(stop, EvCPU, "stopped by smp_send_stop() (stop_this_cpu)") {
				t.Errorf("stop_cpus %s %+v", stop.Status, stop.Evidence)
			}
			if !strings.Contains(stop.Function, "smp_send_stop") || strings.Contains(stop.Function, "crash_smp_send_stop") {
				t.Errorf("stop_cpus function %q", stop.Function)
			}
			if e := find(t, steps, kEndK); e.Status != Running {
				t.Errorf("end %s", e.Status)
			}
		})
	}
}

// Oops + panic_on_oops + pstore (qemu-6.1-lp-oops-pstore).
func TestOopsPstore(t *testing.T) {
	for _, line := range allLines {
		t.Run(line, func(t *testing.T) {
			in := asLine(qemuOops(), line)
			_, steps := Build(in)
			msg := find(t, steps, kMsg)
			if msg.Status != Ran || !hasEvidence(msg, EvLog, "Kernel panic - not syncing: Fatal exception") || !strings.Contains(msg.Note, "TAINT_DIE") {
				t.Errorf("message %+v", msg)
			}
			k := find(t, steps, kKmsgK)
			checkMembers(t, k, []Status{Ran, Ran}, map[string]string{
				"labpanic_kmsg_dump": "log line", "pstore_dump": "inferred: a later step ran"})
			if !hasEvidence(Step{Evidence: k.Members[1].Evidence}, EvMemory, "Panic#2") {
				t.Errorf("caller evidence lost: %+v", k.Members[1].Evidence)
			}
			if in.Dumpers[1].Status != "" || len(in.Dumpers[1].Evidence) != 1 {
				t.Errorf("Build changed its input: %+v", in.Dumpers[1])
			}
			// the "---[ end trace" of the oops (before the panic message) is not the end line
			end := find(t, steps, kEndK)
			if len(end.Evidence) == 0 || *end.Evidence[0].Seq != 463 {
				t.Errorf("end evidence %+v", end.Evidence)
			}
		})
	}
}

// panic_timeout > 0: QEMU stopped the guest during the reboot delay.
func TestPanicTimeoutDelay(t *testing.T) {
	for _, line := range allLines {
		t.Run(line, func(t *testing.T) {
			in := asLine(qemuSysrq61(), line)
			in.PanicTimeout = ip(10)
			in.Log = append(in.Log[:len(in.Log)-1:len(in.Log)-1], LogLine{422, 2861990000, "Rebooting in 10 seconds.."})
			in.CPUs = []CPUEvidence{{CPU: 1, Panicking: true, IPSymbol: "delay_tsc", Frames: []string{"delay_tsc", "__const_udelay", "panic", "sysrq_handle_crash"}}}
			if line == Line619 {
				in.CPUs[0].Frames = []string{"delay_tsc", "__const_udelay", "vpanic", "panic", "sysrq_handle_crash"}
			}
			_, steps := Build(in)
			check(t, line, steps, map[string]want{
				kMsg: {Ran, ""}, kPre: {Skipped, ""}, kStopK: {Ran, ""}, kNotif: {Ran, ""}, kKmsgK: {Ran, ""},
				kPost: {Skipped, ""}, kCons: {Ran, ""}, anyPrint: {Skipped, "panic_print=0"},
				kRestrt: {Running, "panic_timeout=10"},
				kEndK:   {NotReached, "emergency_restart() reboots the machine instead"},
			})
			r := find(t, steps, kRestrt)
			if !hasEvidence(r, EvLog, "Rebooting in 10 seconds..") || !hasEvidence(r, EvParam, "panic_timeout=10") || !hasEvidence(r, EvCPU, "delay_tsc") {
				t.Errorf("restart evidence %+v", r.Evidence)
			}
		})
	}
}

// panic_timeout < 0 with a capture of the finished panic is contradictory;
// with no end line and no CPU, what follows the last evidence is unknown.
func TestNoEvidenceAfterNotifiers(t *testing.T) {
	in := qemuLpPanic()
	in.PanicTimeout = ip(-1)
	in.Log = in.Log[:6] // up to "Kernel Offset"
	in.CPUs = nil
	_, steps := Build(in)
	check(t, Line61Stable, steps, map[string]want{
		kMsg: {Ran, ""}, kPre: {Skipped, "no crash kernel loaded"}, kStopK: {Ran, ""}, kNotif: {Ran, ""},
		kInfo: {Unknown, "no evidence that panic() got past notifiers"}, kKmsgK: {Unknown, "got past notifiers"},
		kPost: {Skipped, "crash_kexec_post_notifiers=N"}, kCons: {Unknown, ""}, kReplay: {Unknown, ""},
		kRestrt: {Unknown, ""}, kEndK: {Unknown, ""},
	})
	checkMembers(t, find(t, steps, kNotif), []Status{Ran, Ran, Ran, Ran, Ran, Ran, Ran, Unknown, Unknown},
		map[string]string{"labpanic_notify_silent": "no evidence"})
	checkMembers(t, find(t, steps, kKmsgK), []Status{Unknown}, nil)
}

func TestPanicPrint(t *testing.T) {
	cases := []struct {
		name string
		line string
		pp   uint64
		w    map[string]want
	}{
		{"5.10 tasks+replay", Line510, 0x21, map[string]want{kPP510: {Ran, "show_state(), console_flush_on_panic(CONSOLE_REPLAY_ALL)"}}},
		{"5.10 all_cpu_bt unsupported", Line510, 0x40, map[string]want{kPP510: {Skipped, "no bit handled by 5.10"}}},
		{"6.1 mem", Line61, 0x2, map[string]want{kInfo: {Ran, "show_mem()"}, kReplay: {Skipped, "bit 0x20 clear"}}},
		{"6.1 all_cpu_bt after stop", Line61, 0x40, map[string]want{kInfo: {Ran, "trigger_all_cpu_backtrace()"}, kStopK: {Ran, ""}}},
		{"6.1-stable all_cpu_bt in stop", Line61Stable, 0x40, map[string]want{kInfo: {Skipped, "no bit for panic_print_sys_info"}, kStopK: {Ran, "all-CPU backtrace"}}},
		{"6.1-stable replay", Line61Stable, 0x20, map[string]want{kInfo: {Skipped, "no bit"}, kReplay: {Ran, "CONSOLE_REPLAY_ALL"}}},
		{"6.12 blocked tasks", Line612, 0x80, map[string]want{kInfo: {Ran, "show_state_filter(TASK_UNINTERRUPTIBLE)"}}},
		{"6.1-stable blocked tasks unsupported", Line61Stable, 0x80, map[string]want{kInfo: {Skipped, "no bit"}}},
		{"6.19 sys_info tasks", Line619, 0x1, map[string]want{kInfo: {Ran, "show_state()"}, kReplay: {Skipped, "panic_console_replay=N"}}},
		{"6.19 all_bt twice", Line619, 0x40, map[string]want{kInfo: {Ran, "trigger_all_cpu_backtrace()"}, kStopK: {Ran, "all-CPU backtrace"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := asLine(qemuSysrq61(), c.line)
			in.PanicPrint = up(c.pp)
			_, steps := Build(in)
			for k, w := range c.w {
				s := find(t, steps, k)
				if s.Status != w.status || !strings.Contains(s.Reason, w.reason) {
					t.Errorf("%s: %s %q, want %s %q", k, s.Status, s.Reason, w.status, w.reason)
				}
			}
			if s := find(t, steps, kEndK); s.Status != Running {
				t.Errorf("end %s", s.Status)
			}
		})
	}
}

// 6.19: sys_info(0) falls back to kernel_si_mask; panic_console_replay.
func TestSysInfo619(t *testing.T) {
	base := asLine(qemuSysrq612(), Line619)
	cases := []struct {
		name   string
		mod    func(*Inputs)
		info   want
		replay want
	}{
		{"no kernel_si_mask symbol", func(*Inputs) {}, want{Skipped, "panic_print=0"}, want{Skipped, "panic_console_replay=N"}},
		{"kernel_si_mask unknown", func(in *Inputs) { in.HasSymbol = has("vpanic", "sys_info", "kernel_si_mask") },
			want{Unknown, "kernel_si_mask, which is unknown"}, want{Skipped, ""}},
		{"kernel_si_mask=0", func(in *Inputs) { in.KernelSIMask = up(0) }, want{Skipped, "kernel_si_mask=0"}, want{Skipped, ""}},
		{"kernel_si_mask=mem", func(in *Inputs) { in.KernelSIMask = up(0x2) }, want{Ran, "kernel_si_mask=0x2: show_mem()"}, want{Skipped, ""}},
		{"panic_console_replay=Y", func(in *Inputs) { in.PanicConsoleReplay = bp(true) }, want{Skipped, ""}, want{Ran, "panic_console_replay=Y"}},
		{"panic_console_replay unknown", func(in *Inputs) { in.PanicConsoleReplay = nil }, want{Skipped, ""}, want{Unknown, "panic_console_replay unknown"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := base
			c.mod(&in)
			_, steps := Build(in)
			for k, w := range map[string]want{kInfo: c.info, kReplay: c.replay} {
				s := find(t, steps, k)
				if s.Status != w.status || !strings.Contains(s.Reason, w.reason) {
					t.Errorf("%s: %s %q, want %s %q", k, s.Status, s.Reason, w.status, w.reason)
				}
			}
			if s := find(t, steps, kInfo); s.Function != "sys_info" || !strings.Contains(s.Source, "vpanic()") {
				t.Errorf("sys_info step %+v", s)
			}
		})
	}
}

// Unknown inputs give "unknown" with what was missing, never a guess.
func TestUnknownInputs(t *testing.T) {
	t.Run("nothing but the message", func(t *testing.T) {
		in := Inputs{Release: "6.1.0-56-amd64", Log: []LogLine{{10, 1000, "Kernel panic - not syncing: x"}}}
		_, steps := Build(in)
		w := map[string]want{kMsg: {Ran, ""}}
		for _, k := range order(Line61Stable)[1:] {
			w[k] = want{Unknown, "no evidence that panic() got past message (capture=unknown)"}
		}
		check(t, Line61Stable, steps, w)
		if n := find(t, steps, kNotif).Note; !strings.Contains(n, "panic_notifier_list not read") {
			t.Errorf("notifiers note %q", n)
		}
	})
	t.Run("finished panic, unknown parameters", func(t *testing.T) {
		in := qemuSysrq61()
		in.PostNotifiers, in.CrashKernelLoaded, in.PanicTimeout, in.PanicPrint = nil, nil, nil, nil
		_, steps := Build(in)
		check(t, Line61Stable, steps, map[string]want{
			kMsg: {Ran, ""}, kPre: {Skipped, "no kexec here: later steps ran (crash_kexec_post_notifiers unknown)"},
			kStopK: {Ran, ""}, kNotif: {Ran, ""}, kInfo: {Unknown, "panic_print unknown"}, kKmsgK: {Ran, ""},
			kPost: {Skipped, "crash_kexec_post_notifiers unknown"}, kCons: {Ran, ""}, kReplay: {Unknown, "panic_print unknown"},
			kRestrt: {Skipped, "no reboot: later steps ran (panic_timeout unknown)"}, kEndK: {Running, ""},
		})
		if f := find(t, steps, kStopK).Function; !strings.Contains(f, "smp_send_stop or crash_smp_send_stop") {
			t.Errorf("stop function %q", f)
		}
	})
	t.Run("kdump, post_notifiers unknown, notifier output", func(t *testing.T) {
		in := kdumpPost()
		in.PostNotifiers = nil
		_, steps := Build(in)
		if s := find(t, steps, kPost); s.Status != Running || !strings.Contains(s.Reason, "inferred Y") {
			t.Errorf("post slot %s %q", s.Status, s.Reason)
		}
		if s := find(t, steps, kPre); s.Status != Skipped || !strings.Contains(s.Reason, "no kexec here: later steps ran (crash_kexec_post_notifiers unknown)") {
			t.Errorf("pre slot %s %q", s.Status, s.Reason)
		}
		if s := find(t, steps, kNotif); s.Status != Ran {
			t.Errorf("notifiers %s", s.Status)
		}
	})
	t.Run("kdump, post_notifiers unknown, no output", func(t *testing.T) {
		in := kdumpLzo()
		in.PostNotifiers = nil
		_, steps := Build(in)
		check(t, Line61Stable, steps, map[string]want{
			kMsg: {Ran, ""}, kPre: {Unknown, "crash_kexec_post_notifiers unknown"},
			kStopK: {Unknown, "kdump was deferred"}, kNotif: {Unknown, ""}, kInfo: {Unknown, ""}, kKmsgK: {Unknown, ""},
			kPost: {Unknown, "crash_kexec_post_notifiers unknown"},
			kCons: {NotReached, "kdump"}, kReplay: {NotReached, ""}, kRestrt: {NotReached, ""}, kEndK: {NotReached, ""},
		})
		checkMembers(t, find(t, steps, kNotif), rep(9, Unknown), nil)
	})
	t.Run("no evidence at all", func(t *testing.T) {
		_, steps := Build(Inputs{Release: "6.12.117+deb13-amd64", Capture: CaptureHypervisor})
		for _, s := range steps {
			if s.Status != Unknown || !strings.Contains(s.Reason, "no evidence that panic() ran") {
				t.Errorf("%s: %s %q", key(s), s.Status, s.Reason)
			}
		}
	})
	t.Run("dumper max_reason", func(t *testing.T) {
		in := qemuSysrq61()
		in.Dumpers = []Member{{Name: "undef_dumper", MaxReason: ip(KmsgDumpUndef)}, {Name: "unknown_dumper"}, {Name: "emerg_dumper", MaxReason: ip(KmsgDumpEmerg)}}
		_, steps := Build(in)
		checkMembers(t, find(t, steps, kKmsgK), []Status{Ran, Unknown, Ran},
			map[string]string{"unknown_dumper": "max_reason unknown", "emerg_dumper": "inferred: a later step ran"})
	})
}

func TestLiveSystem(t *testing.T) {
	_, steps := Build(Inputs{Release: "6.1.0-56-amd64", Capture: CaptureLive, Notifiers: sysrqNotifiers61()})
	for _, s := range steps {
		if s.Status != NotReached || s.Reason != "live system: no panic in progress" {
			t.Errorf("%s: %s %q", key(s), s.Status, s.Reason)
		}
	}
	checkMembers(t, find(t, steps, kNotif), rep(6, NotReached), nil)
}

// The panicking CPU stuck inside a notifier callback.
func TestStuckInNotifier(t *testing.T) {
	in := qemuLpPanic()
	in.Log = in.Log[:4] // up to "labpanic: notifier prio=INT_MAX ran first"
	in.CPUs = []CPUEvidence{{CPU: 0, Panicking: true, IPSymbol: "labpanic_notify_loud+0x5/0x40 [labpanic]",
		Frames: []string{"notifier_call_chain", "atomic_notifier_call_chain", "panic", "labpanic_trigger.cold"}}}
	_, steps := Build(in)
	const stuck = "panic() did not get past notifiers"
	check(t, Line61Stable, steps, map[string]want{
		kMsg: {Ran, ""}, kPre: {Skipped, ""}, kStopK: {Ran, ""}, kNotif: {Running, "labpanic_notify_loud"},
		kInfo: {NotReached, stuck}, kKmsgK: {NotReached, stuck}, kPost: {Skipped, ""}, kCons: {NotReached, stuck},
		kReplay: {NotReached, stuck}, kRestrt: {NotReached, stuck}, kEndK: {NotReached, stuck},
	})
	checkMembers(t, find(t, steps, kNotif),
		[]Status{Ran, Ran, Ran, Running, NotReached, NotReached, NotReached, NotReached, NotReached},
		map[string]string{"trace_panic_handler": "inferred: a later member ran", "rcu_panic": "still in labpanic_notify_loud"})
}

// Only records at or after the panic message count.
func TestLogFloor(t *testing.T) {
	in := qemuSysrq61()
	in.PanicSeq = nil
	in.Log = append([]LogLine{
		{300, 1000, "---[ end Kernel panic - not syncing: an older panic ]---"},
		{301, 1001, "Kernel Offset: 0x1 from 0xffffffff81000000"},
	}, in.Log[0], in.Log[1]) // no end line, no Kernel Offset after the message
	in.CPUs = nil
	_, steps := Build(in)
	if s := find(t, steps, kEndK); s.Status != Unknown || len(s.Evidence) != 0 {
		t.Errorf("end %s %+v", s.Status, s.Evidence)
	}
	if ev := find(t, steps, kMsg).Evidence; len(ev) != 1 || *ev[0].Seq != 382 {
		t.Errorf("message evidence %+v", ev)
	}
	for _, mm := range find(t, steps, kNotif).Members {
		if len(mm.Evidence) != 0 {
			t.Errorf("%s got evidence from before the panic: %+v", mm.Name, mm.Evidence)
		}
	}
}

func TestDeterministicAndJSON(t *testing.T) {
	l1, s1 := Build(kdumpPost())
	l2, s2 := Build(kdumpPost())
	if l1 != l2 || !reflect.DeepEqual(s1, s2) {
		t.Fatal("Build is not deterministic")
	}
	j1, err := json.Marshal(s1)
	if err != nil {
		t.Fatal(err)
	}
	j2, _ := json.Marshal(s2)
	if string(j1) != string(j2) {
		t.Fatal("JSON differs")
	}
	var back []map[string]any
	if err := json.Unmarshal(j1, &back); err != nil {
		t.Fatal(err)
	}
	names := map[StepName]bool{StepMessage: true, StepStopCPUs: true, StepCrashKexec: true, StepNotifiers: true,
		StepKmsgDump: true, StepConsoleFlush: true, StepPanicPrint: true, StepRestart: true, StepEnd: true}
	statuses := map[string]bool{"ran": true, "running": true, "skipped": true, "not_reached": true, "unknown": true}
	for _, s := range back {
		if !names[StepName(s["step"].(string))] || !statuses[s["status"].(string)] {
			t.Errorf("vocabulary: %v %v", s["step"], s["status"])
		}
		if s["function"] == "" || s["source"] == "" {
			t.Errorf("%v: no function/source", s["step"])
		}
	}
	if !strings.Contains(string(j1), `"seq":420`) || !strings.Contains(string(j1), `"timestamp_ns":4004795000`) {
		t.Error("log evidence seq/timestamp missing from JSON")
	}
}

func TestEverySourceCitesPanicC(t *testing.T) {
	for _, line := range allLines {
		for _, post := range []*bool{nil, bp(false), bp(true)} {
			f := featuresFor(line)
			for _, d := range model(f, post) {
				if !strings.HasPrefix(d.source, "kernel/panic.c "+f.fn+"(): ") {
					t.Errorf("%s %s: source %q", line, d.step, d.source)
				}
			}
		}
	}
}

func TestUnknownLineBuild(t *testing.T) {
	line, steps := Build(Inputs{Release: "custom", Log: []LogLine{{1, 1, "Kernel panic - not syncing: x"}}})
	if line != LineUnknown || !strings.Contains(steps[0].Note, "kernel line unknown") {
		t.Errorf("line %s note %q", line, steps[0].Note)
	}
	if !reflect.DeepEqual(keys(steps), order(Line61Stable)) {
		t.Errorf("order %v", keys(steps))
	}
}

// Where the panicking CPU is, from its stack alone (no log beyond the message).
func TestCPUPosition(t *testing.T) {
	cases := []struct {
		name    string
		line    string
		post    *bool
		timeout *int
		ip      string
		frames  []string
		running string // key of the running step; "" = none
		reason  string
	}{
		{"dump_stack", Line61Stable, bp(false), ip(0), "dump_stack_lvl", []string{"dump_stack_lvl+0x44/0x5c", "panic+0x118/0x2f4"}, kMsg, "dump_stack_lvl"},
		{"stuck stopping cpus", Line612, bp(false), ip(0), "native_stop_other_cpus", []string{"native_stop_other_cpus", "panic_other_cpus_shutdown", "panic"}, kStopK, ""},
		{"crash kexec by stack", Line510, bp(false), ip(0), "machine_kexec", []string{"machine_kexec", "__crash_kexec", "panic"}, kPre, ""},
		{"crash kexec, slot unknown", Line510, nil, ip(0), "machine_kexec", []string{"machine_kexec", "__crash_kexec", "panic"}, "", ""},
		{"in a dumper", Line61Stable, bp(false), ip(0), "pstore_dump", []string{"pstore_dump", "kmsg_dump", "panic"}, kKmsgK, ""},
		{"show_state 6.1", Line61, bp(false), ip(0), "show_state_filter", []string{"show_state_filter", "panic"}, kInfo, ""},
		{"show_state 5.10", Line510, bp(false), ip(0), "show_state_filter", []string{"show_state_filter", "panic_print_sys_info", "panic"}, kPP510, ""},
		{"console replay 6.12", Line612, bp(false), ip(0), "console_unlock", []string{"console_unlock", "console_flush_on_panic", "panic_print_sys_info", "panic"}, kReplay, ""},
		{"console flush", Line61Stable, bp(false), ip(0), "serial8250_console_write", []string{"serial8250_console_write", "console_unlock", "console_flush_on_panic", "panic"}, kCons, ""},
		{"emergency_restart", Line61Stable, bp(false), ip(5), "native_machine_emergency_restart", []string{"native_machine_emergency_restart", "emergency_restart", "panic"}, kRestrt, "emergency_restart()"},
		{"final loop, end line lost", Line61Stable, bp(false), ip(0), "delay_tsc", []string{"delay_tsc", "panic"}, kEndK, "end line is not in the log"},
		{"delay loop, timeout unknown", Line61Stable, bp(false), nil, "delay_tsc", []string{"delay_tsc", "panic"}, "", ""},
		{"unknown callee", Line61Stable, bp(false), ip(0), "something", []string{"something", "panic"}, "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := asLine(Inputs{PostNotifiers: c.post, CrashKernelLoaded: bp(false), PanicTimeout: c.timeout, PanicPrint: up(0),
				Capture: CaptureHypervisor, Notifiers: []Member{}, Dumpers: []Member{{Name: "pstore_dump", MaxReason: ip(KmsgDumpOops)}},
				CPUs: []CPUEvidence{{CPU: 0, Panicking: true, IPSymbol: c.ip, Frames: c.frames}}}, c.line)
			_, steps := Build(in)
			if find(t, steps, kMsg).Status == Unknown {
				t.Errorf("a CPU in panic() is evidence that panic() ran")
			}
			running := ""
			for _, s := range steps {
				if s.Status == Running {
					if running != "" {
						t.Errorf("two running steps: %s and %s", running, key(s))
					}
					running = key(s)
					if !strings.Contains(s.Reason, c.reason) {
						t.Errorf("reason %q, want %q", s.Reason, c.reason)
					}
				}
			}
			if running != c.running {
				t.Errorf("running %q, want %q", running, c.running)
			}
			if c.running == kKmsgK {
				checkMembers(t, find(t, steps, kKmsgK), []Status{Running}, nil)
			}
		})
	}
}

func TestOtherCPUStates(t *testing.T) {
	in := qemuSysrq61()
	in.CPUs = append(in.CPUs,
		CPUEvidence{CPU: 2, Frames: []string{"native_halt", "panic_smp_self_stop", "panic"}},
		CPUEvidence{CPU: 3, IPSymbol: "native_halt"},
		CPUEvidence{CPU: 4, IPSymbol: "default_idle"})
	in.Log = append(in.Log[:2:2], LogLine{383, 1, "Shutting down cpus with NMI"}, in.Log[4])
	_, steps := Build(in)
	s := find(t, steps, kStopK)
	for _, w := range []string{"Shutting down cpus with NMI"} {
		if !hasEvidence(s, EvLog, w) {
			t.Errorf("no log %q: %+v", w, s.Evidence)
		}
	}
	for _, w := range []string{"cpu 2: native_halt < panic_smp_self_stop < panic — entered panic() too", "cpu 3: native_halt — halted"} {
		if !hasEvidence(s, EvCPU, w) {
			t.Errorf("no cpu %q: %+v", w, s.Evidence)
		}
	}
	if hasEvidence(s, EvCPU, "cpu 4") {
		t.Errorf("an idle CPU is not evidence: %+v", s.Evidence)
	}
}

// TestOnlyEndLine: the message record was lost and only panic()'s closing
// line survives. The end line is the message step's evidence and every
// step reads as when the message line is there.
func TestOnlyEndLine(t *testing.T) {
	_, full := Build(qemuLpPanic())
	in := qemuLpPanic()
	in.Log, in.PanicSeq = in.Log[1:], nil // the caller found the message on the end line
	_, steps := Build(in)
	if len(steps) != len(full) {
		t.Fatalf("%d steps, want %d", len(steps), len(full))
	}
	for i := range steps {
		if steps[i].Status != full[i].Status {
			t.Errorf("%s: %s, with the message line %s", key(steps[i]), steps[i].Status, full[i].Status)
		}
	}
	msg := find(t, steps, kMsg)
	if !hasEvidence(msg, EvLog, "---[ end Kernel panic - not syncing: "+lpMsg) || !strings.Contains(msg.Note, "end line repeats") {
		t.Errorf("message step: %+v", msg)
	}
}

// TestPartialLists: members of a list read only in part are shown, and the
// step says the list is not whole.
func TestPartialLists(t *testing.T) {
	in := qemuLpPanic()
	in.Notifiers, in.NotifiersPartial = in.Notifiers[:1], true
	_, steps := Build(in)
	s := find(t, steps, kNotif)
	if len(s.Members) != 1 || !strings.Contains(s.Note, "panic_notifier_list read only in part: the members after the first 1 are not known") {
		t.Errorf("notifiers: %d members, note %q", len(s.Members), s.Note)
	}
	if k := find(t, steps, kKmsgK); strings.Contains(k.Note, "read only in part") {
		t.Errorf("kmsg_dump: %q", k.Note)
	}
}

// An oops with panic_on_oops and a crash kernel loaded, no post notifiers:
// oops_end() calls crash_kexec() itself (kexec_should_crash()), so panic()
// never ran and every one of its steps is "not reached", with the stack as
// evidence.
func TestOopsDirectKexec(t *testing.T) {
	in := kdumpLzo()
	in.PanicMessage, in.PanicSeq = "", nil
	in.Log = []LogLine{{390, 4004411000, "Oops: 0002 [#1] PREEMPT SMP NOPTI"}}
	in.CPUs[0] = CPUEvidence{CPU: 1, Panicking: true, IPSymbol: "machine_kexec", Frames: []string{
		"machine_kexec", "__crash_kexec", "crash_kexec", "oops_end", "page_fault_oops", "exc_page_fault", "asm_exc_page_fault", "labpanic_do_oops"}}
	for _, line := range allLines {
		t.Run(line, func(t *testing.T) {
			_, steps := Build(asLine(in, line))
			for _, s := range steps {
				if s.Status != NotReached || !strings.Contains(s.Reason, "panic() was not called: oops_end()/die() called crash_kexec() directly") {
					t.Errorf("%s: %s %q", key(s), s.Status, s.Reason)
				}
			}
			if !hasEvidence(steps[0], EvCPU, "crash_kexec < oops_end < page_fault_oops") {
				t.Errorf("message: no oops_end stack as evidence: %+v", steps[0].Evidence)
			}
		})
	}
	// The same stack through panic() (panic_on_oops with post notifiers:
	// oops_end -> panic("Fatal exception") -> __crash_kexec) is the panic path.
	in.CPUs[0].Frames = []string{"machine_kexec", "__crash_kexec", "panic", "oops_end", "page_fault_oops"}
	_, steps := Build(in)
	if s := find(t, steps, kMsg); s.Status == NotReached {
		t.Errorf("through panic(): message %s %q", s.Status, s.Reason)
	}
}

// A kdump capture whose log and stacks could not be read (a truncated
// dump) does not show that panic() ran: every step is unknown, none "ran".
func TestKdumpWithoutPanicEvidence(t *testing.T) {
	in := kdumpLzo()
	in.PanicMessage, in.PanicSeq, in.Log, in.PostNotifiers = "", nil, nil, nil
	in.CPUs = nil
	_, steps := Build(in)
	afterKexec := false
	for _, s := range steps {
		switch {
		case afterKexec:
			if s.Status != NotReached || !strings.Contains(s.Reason, "machine_kexec() does not return") {
				t.Errorf("%s after the last crash_kexec: %s %q", key(s), s.Status, s.Reason)
			}
		case s.Status != Unknown || !strings.Contains(s.Reason, "nothing read shows whether it was entered from panic()"):
			t.Errorf("%s: %s %q", key(s), s.Status, s.Reason)
		}
		if key(s) == kPost {
			afterKexec = true
		}
	}
	if !afterKexec {
		t.Error("no crash_kexec after kmsg_dump in the model")
	}
}

// The same oops path read from the log alone (the saved registers are the
// oops site, so the stack has no crash_kexec frame): a whole log with an
// oops and no panic message. A log with a gap after the oops tells nothing.
func TestOopsDirectKexecFromLog(t *testing.T) {
	in := kdumpLzo()
	in.PanicMessage, in.PanicSeq, in.Log = "", nil, nil
	in.CPUs[0] = CPUEvidence{CPU: 0, Panicking: true, IPSymbol: "labpanic_do_oops", Frames: []string{"labpanic_do_oops", "labpanic_trigger", "vfs_write"}}
	in.Oops = &LogLine{409, 30404891000, "Oops: Oops: 0002 [#1] SMP NOPTI"}
	in.LogWhole = true
	_, steps := Build(in)
	for _, s := range steps {
		if s.Status != NotReached || !strings.Contains(s.Reason, "has no \"Kernel panic - not syncing\" line") {
			t.Errorf("%s: %s %q", key(s), s.Status, s.Reason)
		}
	}
	if !hasEvidence(steps[0], EvLog, "Oops: Oops: 0002") || !hasEvidence(steps[0], EvCPU, "labpanic_do_oops") {
		t.Errorf("message evidence: %+v", steps[0].Evidence)
	}
	in.LogWhole = false
	_, steps = Build(in)
	if s := steps[0]; s.Status != Unknown {
		t.Errorf("a log with a gap after the oops: message %s %q", s.Status, s.Reason)
	}
}

// A panic notifier that faults (qemu-7.3-fault): after the panic message,
// an oops whose RIP is in labpanic_notify_loud, and no end line: panic()
// stopped in that callback (oops_end() killed the task), the members before
// it ran, the later steps were never reached. With a second panic message
// (panic_on_oops re-entered panic()) the rule does not apply.
func TestFaultingNotifier(t *testing.T) {
	in := qemuLpPanic()
	in.Log = []LogLine{
		{383, 2813365000, "Kernel panic - not syncing: " + lpMsg},
		{416, 2814663000, "labpanic: notifier prio=INT_MAX ran first"},
		{417, 2814700000, "BUG: kernel NULL pointer dereference, address: 0000000000000000"},
		{430, 2814800000, "RIP: 0010:labpanic_notify_loud+0x17/0x30 [labpanic]"},
	}
	in.CPUs[0] = CPUEvidence{CPU: 0, Panicking: true, IPSymbol: "pv_native_safe_halt", Frames: []string{"pv_native_safe_halt", "default_idle", "do_idle"}}
	_, steps := Build(in)
	n := find(t, steps, kNotif)
	if n.Status != Running || !strings.Contains(n.Reason, "labpanic_notify_loud faulted (BUG: kernel NULL pointer dereference") {
		t.Errorf("notifiers: %s %q", n.Status, n.Reason)
	}
	checkMembers(t, n, []Status{Ran, Ran, Ran, Running, NotReached, NotReached, NotReached, NotReached, NotReached},
		map[string]string{"labpanic_notify_loud": "faulted in this callback"})
	if k := find(t, steps, kKmsgK); k.Status != NotReached || !strings.Contains(k.Reason, "abandoned when labpanic_notify_loud faulted") {
		t.Errorf("kmsg_dump: %s %q", k.Status, k.Reason)
	}
	in.Log = append(in.Log, LogLine{440, 2814900000, "Kernel panic - not syncing: Fatal exception"})
	_, steps = Build(in)
	if n := find(t, steps, kNotif); n.Status == Running && strings.Contains(n.Reason, "faulted") {
		t.Errorf("a re-entered panic read as an abandoned one: %q", n.Reason)
	}
}
