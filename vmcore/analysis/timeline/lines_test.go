package timeline

import (
	"fmt"
	"strings"
	"testing"
)

func TestLine(t *testing.T) {
	cases := []struct {
		release string
		syms    []string
		nilSyms bool
		line    string
		why     string
	}{
		{"5.10.0-32-amd64", nil, false, Line510, "release 5.10"},
		{"5.10.223", nil, true, Line510, ""},
		{"4.19.0-27-amd64", nil, false, Line510, "older than 5.10"},
		{"5.15.0-91-generic", nil, false, Line510, "approximated by the 5.10 model"},
		{"5.19.0", nil, false, Line61, "approximated by the 6.1 model"},
		// Debian bookworm: 6.1.0-56 is 6.1.192, well past 6.1.16
		{"6.1.0-56-amd64", nil, false, Line61Stable, "Debian 6.1.0-56"},
		{"6.1.0-56-amd64", nil, true, Line61Stable, "ABI >= 7"},
		{"6.1.0-7-amd64", nil, false, Line61Stable, ""},
		{"6.1.0-6-amd64", nil, false, Line61, "6.1.15 or older"},
		{"6.1.0-6-amd64", []string{"panic_other_cpus_shutdown"}, false, Line61Stable, "panic_other_cpus_shutdown"},
		{"6.1.0", nil, false, Line61, "cannot be ruled out"},
		{"6.1.15", nil, false, Line61, "6.1.15 < 6.1.16"},
		{"6.1.16", nil, false, Line61Stable, "6.1.16 >= 6.1.16"},
		{"6.1.192-2-cloud", nil, false, Line61Stable, ""},
		{"6.2.0", nil, false, Line61, "v6.3-rc1"},
		{"6.6.87", nil, false, Line61Stable, "approximated"},
		{"6.12.117+deb13-amd64", []string{"kmsg_dump_desc"}, false, Line612, "release 6.12"},
		{"6.12.117+deb13-amd64", nil, false, Line612, "kmsg_dump_desc not found"},
		{"6.15.2", nil, false, Line612, "approximated by the 6.12 model"},
		{"6.17.0", []string{"vpanic", "sys_info"}, false, Line619, "approximated by the 6.19 model"},
		{"6.19.0-1-amd64", []string{"vpanic"}, false, Line619, "release 6.19"},
		{"6.19.3", nil, false, Line619, "vpanic not found"},
		{"7.2.0", []string{"vpanic"}, false, Line619, "approximated by the 6.19 model"},
		{"", []string{"vpanic"}, false, Line619, "vpanic present"},
		// 7.3: chosen by version and confirmed by symbols; a newer kernel
		// names the model and the assumptions it could check.
		{"7.3.4+deb13-amd64", syms73, false, Line73, "release 7.3 (Debian 7.3.4 kernel/panic.c vpanic())"},
		{"7.3.4+deb13-amd64", []string{"vpanic", "sys_info"}, false, Line73, "contradicted: panic_redirect_cpu absent"},
		{"7.3.4+deb13-amd64", nil, true, Line73, "release 7.3"},
		{"7.4.0", syms73, false, Line73, "7.4 is newer than every model: the 7.3 model (Debian 7.3.4 kernel/panic.c vpanic()) is used; checked: vpanic present, panic_redirect_cpu present"},
		{"8.1.0-1-amd64", nil, true, Line73, "8.1 is newer than every model: the 7.3 model (Debian 7.3.4 kernel/panic.c vpanic()) is used; assumptions not checked (no symbol table)"},
		{"7.5.0", append([]string{"panic_print_sys_info"}, syms73[1:]...), false, Line73, "contradicted: vpanic absent (the model assumes the body is vpanic()), panic_print_sys_info present"},
		{"6.19.3", []string{"vpanic", "panic_redirect_cpu"}, false, Line73, "6.19 with panic_redirect_cpu: approximated by the 7.3 model"},
		{"garbage", []string{"vpanic", "panic_redirect_cpu"}, false, Line73, "panic_redirect_cpu present: the 7.3 model"},
		{"garbage", []string{"kmsg_dump_desc"}, false, Line612, ""},
		{"garbage", []string{"panic_other_cpus_shutdown"}, false, Line61Stable, ""},
		{"garbage", []string{"printk_safe_flush_on_panic"}, false, Line510, ""},
		{"garbage", nil, true, LineUnknown, "not parsed"},
	}
	for _, c := range cases {
		var hs func(string) bool
		if !c.nilSyms {
			hs = has(c.syms...)
		}
		line, why := Line(c.release, hs)
		if line != c.line || !strings.Contains(why, c.why) {
			t.Errorf("Line(%q, %v) = %s, %q; want %s, %q", c.release, c.syms, line, why, c.line, c.why)
		}
	}
}

// syms73 are the symbols Debian 7.3.4's panic path has (its kallsyms).
var syms73 = []string{"vpanic", "panic_redirect_cpu", "sys_info", "kmsg_dump_desc",
	"printk_legacy_allow_panic_sync", "nbcon_atomic_flush_unsafe"}

// The per-line differences in panic() that the model encodes.
func TestLineDifferences(t *testing.T) {
	get := func(line string, post *bool, k kind) stepDef {
		for _, d := range model(featuresFor(line), post) {
			if d.kind == k {
				return d
			}
		}
		t.Fatalf("%s: no kind %d", line, k)
		return stepDef{}
	}
	// 5.10: printk_safe_flush_on_panic() before __crash_kexec and kmsg_dump; unblank_screen()
	if s := get(Line510, bp(false), kCrashPre).source; !strings.Contains(s, "printk_safe_flush_on_panic(); __crash_kexec(NULL); smp_send_stop()") {
		t.Errorf("5.10 pre: %q", s)
	}
	if s := get(Line510, nil, kConsole).source; !strings.HasPrefix(strings.TrimPrefix(s, "kernel/panic.c panic(): "), "unblank_screen()") {
		t.Errorf("5.10 console: %q", s)
	}
	// stop function per post setting and line
	for _, c := range []struct {
		line string
		post *bool
		fn   string
	}{
		{Line510, bp(false), "smp_send_stop"},
		{Line510, bp(true), "crash_smp_send_stop"},
		{Line61, bp(true), "crash_smp_send_stop"},
		{Line61Stable, bp(false), "panic_other_cpus_shutdown → smp_send_stop"},
		{Line612, bp(true), "panic_other_cpus_shutdown → crash_smp_send_stop"},
		{Line619, nil, "panic_other_cpus_shutdown → smp_send_stop or crash_smp_send_stop"},
	} {
		if fn := get(c.line, c.post, kStop).function; !strings.HasPrefix(fn, c.fn) {
			t.Errorf("%s stop: %q, want %q", c.line, fn, c.fn)
		}
	}
	if s := get(Line612, nil, kStop).source; !strings.Contains(s, "printk_legacy_allow_panic_sync()") {
		t.Errorf("6.12 stop: %q", s)
	}
	if s := get(Line61Stable, nil, kStop).source; strings.Contains(s, "printk_legacy_allow_panic_sync") {
		t.Errorf("6.1-stable stop: %q", s)
	}
	// the final flush after the end line
	for line, w := range map[string]string{Line510: "console_flush_on_panic", Line61: "no console flush", Line61Stable: "console_flush_on_panic",
		Line612: "nbcon_atomic_flush_unsafe", Line619: "nbcon_atomic_flush_unsafe"} {
		if n := get(line, nil, kEnd).note; !strings.Contains(n, w) {
			t.Errorf("%s end note %q, want %q", line, n, w)
		}
	}
	if s := get(Line619, nil, kMessage).source; !strings.HasPrefix(s, "kernel/panic.c vpanic(): ") {
		t.Errorf("6.19 source %q", s)
	}
	// 7.3: panic_try_force_cpu() before the message; otherwise 6.19's order.
	if s := get(Line73, nil, kMessage).source; !strings.HasPrefix(s, "kernel/panic.c vpanic(): panic_try_force_cpu(fmt, args); panic_try_start(); pr_emerg(") {
		t.Errorf("7.3 message source %q", s)
	}
	if s := get(Line619, nil, kMessage).source; strings.Contains(s, "panic_try_force_cpu") {
		t.Errorf("6.19 message source %q", s)
	}
	var kinds73, kinds619 []kind
	for _, d := range model(featuresFor(Line73), nil) {
		kinds73 = append(kinds73, d.kind)
	}
	for _, d := range model(featuresFor(Line619), nil) {
		kinds619 = append(kinds619, d.kind)
	}
	if fmt.Sprint(kinds73) != fmt.Sprint(kinds619) {
		t.Errorf("7.3 steps %v, 6.19 steps %v", kinds73, kinds619)
	}
	if n := get(Line61, nil, kPrintInfo).note; !strings.Contains(n, "after the CPUs were stopped") {
		t.Errorf("6.1 sys info note %q", n)
	}
}

// TestInputsLineOverrides: a caller that already chose the model (the plan
// reuses the report's choice) gets that model, whatever the release says.
func TestInputsLineOverrides(t *testing.T) {
	line, steps := Build(Inputs{Release: "6.1.0-56-amd64", Line: Line510, Capture: CaptureLive})
	if line != Line510 {
		t.Fatalf("line %q, want %q", line, Line510)
	}
	chosen, _ := Build(Inputs{Release: "6.1.0-56-amd64", Capture: CaptureLive})
	if chosen == Line510 || len(steps) == 0 {
		t.Fatalf("without the override the release picks %q; steps %d", chosen, len(steps))
	}
}

// TestConditionsOnALiveSystem: with no panic in progress every step is
// not_reached, but each still carries its own test on the inputs, which
// the panic plan is made of.
func TestConditionsOnALiveSystem(t *testing.T) {
	yes, timeout, print := true, 0, uint64(0)
	_, steps := Build(Inputs{Release: "6.1.0-56-amd64", Capture: CaptureLive,
		PostNotifiers: &yes, CrashKernelLoaded: &yes, PanicTimeout: &timeout, PanicPrint: &print})
	want := map[string]CondState{
		string(StepCrashKexec) + "/" + SlotBeforeNotifiers: CondInactive,
		string(StepCrashKexec) + "/" + SlotAfterKmsgDump:   CondActive,
		string(StepRestart) + "/":                          CondInactive,
		string(StepNotifiers) + "/":                        CondActive,
	}
	for _, s := range steps {
		if s.Status != NotReached {
			t.Errorf("%s/%s: %s on a live system", s.Step, s.Slot, s.Status)
		}
		if w, ok := want[string(s.Step)+"/"+s.Slot]; ok && s.Condition.State != w {
			t.Errorf("%s/%s: condition %+v, want %s", s.Step, s.Slot, s.Condition, w)
		}
	}
}
