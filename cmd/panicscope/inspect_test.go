package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/panicscope/panicscope/internal/testfixtures"
)

func TestAsciiColumnAndTermSafe(t *testing.T) {
	if got := asciiColumn([]byte("Li\x00\x1b\xffx")); got != "Li...x" {
		t.Errorf("asciiColumn = %q", got)
	}
	if got := termSafe("sh\x1b[2J"); got != `sh\x1b[2J` {
		t.Errorf("termSafe = %q", got)
	}
}

// drgnFacts is the part of a fixture's meta.json that drgn read from memory.
type drgnFacts struct {
	NrCPUIDs int `json:"nr_cpu_ids"`
	Modules  []struct {
		Name string `json:"name"`
		Base string `json:"base"`
		Size uint64 `json:"size"`
	} `json:"modules"`
	Chain []struct {
		NB string `json:"notifier_block"`
	} `json:"panic_notifier_list"`
}

func drgnOf(t *testing.T, fx testfixtures.Fixture) drgnFacts {
	t.Helper()
	raw, ok := fx.Meta.Raw["expected_from_memory_drgn"]
	if !ok {
		t.Skipf("%s: no drgn facts", fx.Name)
	}
	b, _ := json.Marshal(raw)
	var d drgnFacts
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	return d
}

func runOK(t *testing.T, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	if err := run(args, &out, &errb); err != nil {
		t.Fatalf("panicscope %s: %v\n%s", strings.Join(args, " "), err, errb.String())
	}
	return out.String()
}

// TestInspectCommandsAgainstDrgn: mod, list, ps, struct and rd on a real
// kdump agree with what drgn read from the same memory (meta.json).
func TestInspectCommandsAgainstDrgn(t *testing.T) {
	fx := testfixtures.Get(t, "kdump-6.1-lzo")
	dump := filepath.Join(fx.Dir, "vmcore")
	d := drgnOf(t, fx)

	var mods []struct {
		Name string `json:"name"`
		Base string `json:"text_base"`
		Size uint64 `json:"size"`
	}
	if err := json.Unmarshal([]byte(runOK(t, "mod", dump, "--json")), &mods); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, m := range mods {
		got[m.Name] = fmt.Sprintf("%s/%d", m.Base, m.Size)
	}
	if len(mods) != len(d.Modules) {
		t.Errorf("mod: %d modules, drgn %d", len(mods), len(d.Modules))
	}
	for _, m := range d.Modules {
		if want := fmt.Sprintf("%s/%d", m.Base, m.Size); got[m.Name] != want {
			t.Errorf("mod %s: %s, drgn %s", m.Name, got[m.Name], want)
		}
	}

	// The chain walked through notifier_block.next from its first entry.
	first := strings.TrimPrefix(d.Chain[0].NB, "0x")
	lines := strings.Fields(runOK(t, "list", dump, first, "--offset", "8"))
	if len(lines) != len(d.Chain) {
		t.Fatalf("list: %d entries, drgn %d: %v", len(lines), len(d.Chain), lines)
	}
	for i, nb := range d.Chain {
		if "0x"+strings.TrimLeft(lines[i], "0") != nb.NB {
			t.Errorf("list entry %d: %s, drgn %s", i, lines[i], nb)
		}
	}
	st := runOK(t, "struct", dump, "notifier_block", first)
	if !strings.Contains(st, "notifier_call = 0xffffffffc05b61d0 <pvpanic_panic_notify>,") || !strings.Contains(st, "priority = 2147483647") {
		t.Errorf("struct notifier_block:\n%s", st)
	}

	ps := runOK(t, "ps", dump)
	var panicking, swappers int
	for _, l := range strings.Split(ps, "\n") {
		f := strings.Fields(l)
		if len(f) < 6 {
			continue
		}
		if f[0] == "*" {
			panicking++
			if f[1] != "121" || f[3] != fmt.Sprint(fx.Meta.Expected.PanicCPU) || f[6] != "sh" {
				t.Errorf("panicking task line %q, want pid 121 sh on CPU %d", l, fx.Meta.Expected.PanicCPU)
			}
		}
		if strings.HasPrefix(f[len(f)-1], "[swapper/") {
			swappers++
		}
	}
	if panicking != 1 || swappers != d.NrCPUIDs {
		t.Errorf("ps: %d panicking tasks, %d idle tasks (nr_cpu_ids %d)\n%s", panicking, swappers, d.NrCPUIDs, ps)
	}

	rd := runOK(t, "rd", dump, "linux_banner", "2")
	if !strings.HasSuffix(strings.TrimSpace(rd), "Linux version 6.") {
		t.Errorf("rd linux_banner 2: %q", rd)
	}
}

// TestDisCallSite: the instruction before the return address bt finds in
// panic() on kdump-6.1-lzo (panic+0x13d) is the call of the frame above it.
func TestDisCallSite(t *testing.T) {
	fx := testfixtures.Get(t, "kdump-6.1-lzo")
	dump := filepath.Join(fx.Dir, "vmcore")
	bt := runOK(t, "bt", dump, "--cpu", "1")
	if !strings.Contains(bt, "__crash_kexec+") || !strings.Contains(bt, "panic+0x13d/") {
		t.Fatalf("bt changed; this test reads panic+0x13d as a return address:\n%s", bt)
	}
	out := runOK(t, "dis", dump, "panic")
	lines := strings.Split(out, "\n")
	for i, l := range lines {
		if strings.Contains(l, "<panic+317>:") {
			if i == 0 || !strings.HasSuffix(lines[i-1], "call __crash_kexec") && !strings.HasSuffix(lines[i-1], "callq __crash_kexec") {
				t.Errorf("instruction before panic+317: %q", lines[max(i-1, 0)])
			}
			return
		}
	}
	t.Errorf("no instruction starts at panic+317 (0x13d):\n%s", out)
}

func TestSymExpression(t *testing.T) {
	fx := testfixtures.Get(t, "kdump-6.1-lzo")
	out := runOK(t, "sym", filepath.Join(fx.Dir, "vmcore"), "panic+0x13d", "labpanic_write+12")
	for _, want := range []string{"ffffffff81c01ded  panic+0x13d/0x2f4\n", "  labpanic_write+0xc/0xb3 [labpanic]\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("sym output lacks %q:\n%s", want, out)
		}
	}
}

// TestBtOnTrimmedDump: a trimmed copy holds no task list beyond what the
// analysis read: bt --pid says the pid's existence is unknown (not "not
// found"), and bt --all warns that the task list is incomplete.
func TestBtOnTrimmedDump(t *testing.T) {
	fx := testfixtures.Get(t, "kdump-6.1-lzo")
	out := filepath.Join(t.TempDir(), "trimmed")
	runOK(t, "trim", filepath.Join(fx.Dir, "vmcore"), out)
	var stdout, stderr bytes.Buffer
	err := run([]string{"bt", out, "--pid", "1"}, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "whether it exists is unknown") || strings.Contains(err.Error(), "not found") {
		t.Errorf("bt --pid 1: %v", err)
	}
	stdout.Reset()
	stderr.Reset()
	if err := run([]string{"bt", out, "--all"}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr.String(), "the task list is incomplete") {
		t.Errorf("bt --all on a trimmed dump: no warning on stderr:\n%s", stderr.String())
	}
}

// TestLogWallClock: log -T reads the timekeeper; on a kdump its time for the
// last record agrees (to 2 s) with VMCOREINFO's CRASHTIME, a second source.
func TestLogWallClock(t *testing.T) {
	fx := testfixtures.Get(t, "kdump-6.1-lzo")
	dump := filepath.Join(fx.Dir, "vmcore")
	var out, errb bytes.Buffer
	if err := run([]string{"log", "-T", dump}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errb.String(), "tk_core.timekeeper.offs_real") {
		t.Errorf("source: %s", errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	last := lines[len(lines)-1]
	end := strings.Index(last, "]")
	got, err := time.Parse("Mon Jan _2 15:04:05 MST 2006", last[1:end])
	if err != nil {
		t.Fatalf("%q: %v", last, err)
	}
	var id struct {
		CrashTime time.Time `json:"crash_time"`
	}
	if err := json.Unmarshal([]byte(runOK(t, "info", dump, "--json")), &id); err != nil {
		t.Fatal(err)
	}
	if d := got.Sub(id.CrashTime); d < -2*time.Second || d > 2*time.Second {
		t.Errorf("last record at %s, crash time %s", got, id.CrashTime)
	}
}

// TestInspectAgainstCrash runs crash 8 on kdump-6.1-lzo with the 6.1 DWARF
// vmlinux (scripts/bench.sh fetches it into ~/.cache/panicscope-lab) and
// compares mod, struct and rd line by line. It skips without crash or the
// vmlinux. (crash's ps lists only the tasks in its PID hash on this dump,
// and its dis prints gdb's operand spelling: those two are checked against
// drgn's facts and bt's call site instead.)
func TestInspectAgainstCrash(t *testing.T) {
	crash, err := exec.LookPath("crash")
	if err != nil {
		t.Skip("crash is not installed")
	}
	vmlinux := testfixtures.DebugVmlinux(t, "6.1.0-56-amd64")
	fx := testfixtures.Get(t, "kdump-6.1-lzo")
	dump := filepath.Join(fx.Dir, "vmcore")
	cmds := filepath.Join(t.TempDir(), "cmds")
	script := "mod\n!echo ===\nstruct notifier_block ffffffffc05b8080\n!echo ===\nrd linux_banner 4\nquit\n"
	if err := os.WriteFile(cmds, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(crash, "-s", vmlinux, dump, "-i", cmds).CombinedOutput()
	if err != nil {
		t.Skipf("crash failed: %v\n%s", err, out)
	}
	parts := strings.Split(string(out), "===\n")
	if len(parts) != 3 {
		t.Fatalf("crash output:\n%s", out)
	}
	// mod: crash's columns MODULE NAME BASE SIZE; ours add SYMBOLS.
	var crashMods []string
	for _, l := range strings.Split(parts[0], "\n") {
		if f := strings.Fields(l); len(f) >= 4 && strings.HasPrefix(f[0], "ffff") {
			crashMods = append(crashMods, strings.Join(f[:4], " "))
		}
	}
	var ours []string
	for _, l := range strings.Split(runOK(t, "mod", dump), "\n") {
		if f := strings.Fields(l); len(f) >= 4 && strings.HasPrefix(f[0], "ffff") {
			ours = append(ours, strings.Join(f[:4], " "))
		}
	}
	if strings.Join(ours, "\n") != strings.Join(crashMods, "\n") || len(ours) == 0 {
		t.Errorf("mod:\n ours  %q\n crash %q", ours, crashMods)
	}
	if got := runOK(t, "struct", dump, "notifier_block", "ffffffffc05b8080"); strings.TrimSpace(got) != strings.TrimSpace(parts[1]) {
		t.Errorf("struct notifier_block:\n ours:\n%s\n crash:\n%s", got, parts[1])
	}
	crashRd := strings.Split(strings.TrimSpace(parts[2]), "\n")
	ourRd := strings.Split(strings.TrimSpace(runOK(t, "rd", dump, "linux_banner", "4")), "\n")
	for i := range crashRd {
		if i >= len(ourRd) || strings.Join(strings.Fields(ourRd[i]), " ") != strings.Join(strings.Fields(crashRd[i]), " ") {
			t.Errorf("rd line %d:\n ours  %q\n crash %q", i, ourRd[min(i, len(ourRd)-1)], crashRd[i])
		}
	}
}
