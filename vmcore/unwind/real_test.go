package unwind

import (
	"bufio"
	"github.com/panicscope/panicscope/vmcore/arch"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/panicscope/panicscope/internal/testfixtures"
	"github.com/panicscope/panicscope/vmcore/target"
	"github.com/panicscope/panicscope/vmcore/vmem"
)

// crashFrame is one "#n [sp] function at addr [module]" line of crash's bt.
type crashFrame struct {
	Function string
	Addr     uint64
}

var crashLine = regexp.MustCompile(`^\s*#(\d+) \[([0-9a-f]+)\] (\S+) at ([0-9a-f]+)`)

// crashBt reads the first bt of crash-check.txt (the one for `vmcore`).
func crashBt(t *testing.T, dir string) []crashFrame {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "crash-check.txt"))
	if err != nil {
		t.Skipf("no crash-check.txt: %v", err)
	}
	defer f.Close()
	var out []crashFrame
	sc := bufio.NewScanner(f)
	inBt := false
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "PID: ") {
			if inBt {
				break
			}
			inBt = true
			continue
		}
		if !inBt {
			continue
		}
		if strings.HasPrefix(line, "###") {
			break
		}
		if m := crashLine.FindStringSubmatch(line); m != nil {
			a, _ := strconv.ParseUint(m[4], 16, 64)
			out = append(out, crashFrame{Function: m[3], Addr: a})
		}
	}
	return out
}

type fixtureTraces struct {
	panicCPU int
	cpus     []*CPUTrace
	u        *Kernel
}

func openTraces(t *testing.T, path string) *fixtureTraces {
	t.Helper()
	tg, err := target.Open(path, target.Options{})
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	t.Cleanup(func() { tg.Close() })
	tg.Load()
	if tg.Syms == nil || tg.Kernel.Types == nil {
		t.Fatalf("%s: no symbols or types: %v", path, tg.Problems())
	}
	rel := ""
	if info := tg.Dump.VMCOREINFO(); info != nil {
		rel = info.OSRelease()
	}
	u, err := NewKernel(tg.Dump.Arch(), tg.Kernel, tg.Syms, rel)
	if err != nil {
		t.Fatal(err)
	}
	if u.ORC == nil || len(u.Problems) > 0 {
		t.Fatalf("ORC: %v", u.Problems)
	}
	ft := &fixtureTraces{panicCPU: -1, u: u}
	if a, err := tg.Kernel.Symbol("panic_cpu"); err == nil {
		if v, err := vmem.ReadU32(tg.Dump, a); err == nil {
			ft.panicCPU = int(int32(v))
		}
	}
	for i, c := range tg.Dump.CPUs {
		ft.cpus = append(ft.cpus, u.UnwindCPU(i, c.Regs))
	}
	return ft
}

// pastEnd reports a return address just past the end of its function: the
// function ended in a call to a noreturn function (labpanic_do_panic →
// panic, oops_end.cold → panic). The kernel prints it ("+0x18/0x18"); crash
// 8.0.2 leaves such frames out of its bt.
func pastEnd(f Frame) bool { return !f.Signal && f.Size != 0 && f.Offset == f.Size }

// checkAgainstCrash applies the acceptance rule: from our first reliable
// frame that crash also lists, our first three agree with crash's and our
// reliable frames are a subsequence of crash's list (crash adds stale
// frames); return addresses agree where the function does.
func checkAgainstCrash(t *testing.T, tr *Trace, crash []crashFrame) {
	t.Helper()
	var ours []Frame
	for _, f := range tr.Frames {
		if f.Reliable && !pastEnd(f) {
			ours = append(ours, f)
		}
	}
	names := func(fs []Frame) (s []string) {
		for _, f := range fs {
			s = append(s, f.Function)
		}
		return s
	}
	var cnames []string
	for _, c := range crash {
		cnames = append(cnames, c.Function)
	}
	i, j := -1, -1
	for k, f := range ours {
		for l, c := range crash {
			if c.Function == f.Function {
				i, j = k, l
				break
			}
		}
		if i >= 0 {
			break
		}
	}
	if i < 0 {
		t.Fatalf("no frame in common:\nours  %v\ncrash %v", names(ours), cnames)
	}
	t.Logf("ours from #%d %v\ncrash from #%d %v\n(skipped, deeper than crash's start: %v)", i, names(ours[i:]), j, cnames[j:], names(ours[:i]))
	for k := 0; k < 3; k++ {
		if i+k >= len(ours) || j+k >= len(crash) || ours[i+k].Function != crash[j+k].Function {
			t.Errorf("frame %d after the common start differs: ours %v, crash %v", k, names(ours[i:]), cnames[j:])
			break
		}
	}
	l := j
	for _, f := range ours[i:] {
		for l < len(crash) && crash[l].Function != f.Function {
			l++
		}
		if l == len(crash) {
			t.Errorf("%s (%#x) is not in crash's list (in order) %v", f.Function, f.PC, cnames[j:])
			return
		}
		if !f.Signal && f.PC != crash[l].Addr {
			t.Errorf("%s: return address %#x, crash %#x", f.Function, f.PC, crash[l].Addr)
		}
		l++
	}
}

func TestRealPanickingCPUMatchesCrash(t *testing.T) {
	for _, fx := range testfixtures.All(t) {
		t.Run(fx.Name, func(t *testing.T) {
			ft := openTraces(t, filepath.Join(fx.Dir, "vmcore"))
			if ft.panicCPU != fx.Meta.Expected.PanicCPU {
				t.Fatalf("panic_cpu %d, meta says %d", ft.panicCPU, fx.Meta.Expected.PanicCPU)
			}
			tr := ft.cpus[ft.panicCPU]
			t.Logf("cpu %d:\n%s", ft.panicCPU, tr.String())
			if !tr.Complete() || tr.UserRegs == nil {
				t.Errorf("panicking CPU's walk is not complete down to user mode: %s %s", tr.End, tr.Err)
			}
			if !hasFunction(tr.Trace, "panic") {
				t.Errorf("no panic frame")
			}
			if fx.Name == "qemu-6.12-sysrq" {
				return // crash 8.0.2 cannot open it: nothing to compare with
			}
			checkAgainstCrash(t, tr.Trace, crashBt(t, fx.Dir))
		})
	}
}

func hasFunction(tr *Trace, name string) bool {
	for _, f := range tr.Frames {
		if f.Reliable && f.Function == name {
			return true
		}
	}
	return false
}

// TestRealOtherCPU: on QEMU dumps the CPU that did not panic was stopped by
// smp_send_stop(): its registers are inside stop_this_cpu(), on the IRQ
// stack, reached from the REBOOT_VECTOR interrupt of the idle loop. On
// kdump dumps its registers are those crash_nmi_callback() saved: where the
// crash NMI interrupted it (the idle loop), not the NMI handler itself.
func TestRealOtherCPU(t *testing.T) {
	for _, fx := range testfixtures.All(t) {
		t.Run(fx.Name, func(t *testing.T) {
			ft := openTraces(t, filepath.Join(fx.Dir, "vmcore"))
			other := 1 - ft.panicCPU
			tr := ft.cpus[other]
			t.Logf("cpu %d:\n%s", other, tr.String())
			if !tr.Complete() || tr.End != EndOfStack {
				t.Errorf("cpu %d: %s %s", other, tr.End, tr.Err)
			}
			fs := tr.Functions(true)
			if strings.HasPrefix(fx.Name, "kdump-") {
				if fs[0] != "native_safe_halt" || !hasFunction(tr.Trace, "do_idle") {
					t.Errorf("kdump: other CPU not interrupted in the idle loop: %v", fs)
				}
				// The crash NMI handler, rebuilt from the NMI stack, leads.
				var h []string
				for _, f := range tr.Frames {
					if f.Method == MethodHandler {
						h = append(h, f.Function)
					}
				}
				if tr.Handler != "NMI" || strings.Join(h, " ") != "crash_nmi_callback default_do_nmi exc_nmi end_repeat_nmi" {
					t.Errorf("kdump: NMI handler frames %v on %q", h, tr.Handler)
				}
				if f := tr.Frames[len(h)]; f.Regs == nil || f.Regs.PC != f.PC {
					t.Errorf("kdump: the interrupted frame does not carry the saved registers")
				}
				return
			}
			if tr.Handler != "" {
				t.Errorf("qemu: handler frames on a stopped CPU: %s", tr.String())
			}
			if fs[0] != "stop_this_cpu" || tr.Frames[0].Stack != StackIRQ || !hasFunction(tr.Trace, "do_idle") {
				t.Errorf("qemu: other CPU not in stop_this_cpu on the IRQ stack over the idle loop: %v", fs)
			}
			var regs *arch.Regs
			for _, f := range tr.Frames {
				if f.Regs != nil {
					regs = f.Regs
				}
			}
			if regs == nil || regs.User {
				t.Errorf("no interrupted kernel context shown")
			}
		})
	}
}

// TestRealOtherFormats: the ELF and flattened copies give the same walks.
func TestRealOtherFormats(t *testing.T) {
	if testing.Short() {
		t.Skip("decompresses 100+ MiB")
	}
	for _, c := range []struct{ fixture, file string }{
		{"kdump-6.1-lzo", "vmcore.elf.zst"},
		{"qemu-6.1-sysrq", "vmcore.elf.zst"},
		{"kdump-6.1-zlib-postnotifiers", "vmcore.flat"},
	} {
		t.Run(c.fixture+"/"+c.file, func(t *testing.T) {
			fx := testfixtures.Get(t, c.fixture)
			path := filepath.Join(fx.Dir, c.file)
			if strings.HasSuffix(path, ".zst") {
				path = testfixtures.Decompressed(t, path)
			}
			a := openTraces(t, filepath.Join(fx.Dir, "vmcore"))
			b := openTraces(t, path)
			for i := range a.cpus {
				if x, y := a.cpus[i].String(), b.cpus[i].String(); x != y {
					t.Errorf("cpu %d differs:\n%s\nvs\n%s", i, x, y)
				}
			}
		})
	}
}

// TestRealSleepingTasks: every task not on a CPU unwinds from its saved
// context to the end of its stack (user mode or the kernel thread's end).
func TestRealSleepingTasks(t *testing.T) {
	for _, fx := range testfixtures.All(t) {
		t.Run(fx.Name, func(t *testing.T) {
			ft := openTraces(t, filepath.Join(fx.Dir, "vmcore"))
			tasks, err := ft.u.Tasks(0)
			if err != nil {
				t.Fatal(err)
			}
			running := map[uint64]bool{}
			for _, c := range ft.cpus {
				running[c.Task.Addr] = true
			}
			n := 0
			for _, task := range tasks {
				if running[task.Addr] {
					continue
				}
				n++
				tr := ft.u.UnwindTask(task)
				if !tr.Complete() || len(tr.Frames) < 2 || tr.Frames[0].Function != "__schedule" {
					t.Errorf("pid %d %s: %s", task.PID, task.Comm, tr.String())
				}
			}
			if n < 20 {
				t.Errorf("only %d sleeping tasks of %d", n, len(tasks))
			}
		})
	}
}

// TestRealInterleaveMatchesKernelTrace: with Interleave, the frames above
// panic() (whose callers' stack no longer changed) are exactly what the
// kernel's own dump_stack() in panic() printed to the log, "?" entries
// included. Symbol sizes are left out of the comparison: the kernel's
// kallsyms size is the distance to the next symbol, the module symtab's
// st_size can be smaller (labpanic_write /0xc0 vs /0xb3).
func TestRealInterleaveMatchesKernelTrace(t *testing.T) {
	size := regexp.MustCompile(`/0x[0-9a-f]+`)
	for _, fx := range testfixtures.All(t) {
		t.Run(fx.Name, func(t *testing.T) {
			tg, err := target.Open(filepath.Join(fx.Dir, "vmcore"), target.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer tg.Close()
			tg.Load()
			log, err := tg.Log()
			if err != nil {
				t.Skipf("no log: %v", err)
			}
			rec, _, ok := log.PanicMessage()
			if !ok {
				t.Skip("no panic message")
			}
			var kernel []string
			inTrace := false
			for _, r := range log.Records {
				if r.Seq <= rec.Seq {
					continue
				}
				text := strings.TrimRight(r.Text, "\n")
				switch {
				case strings.HasPrefix(text, "Call Trace:"):
					inTrace = true
				case strings.Contains(text, "</TASK>"):
					inTrace = false
				case inTrace && strings.HasPrefix(text, " ") && strings.Contains(text, "+0x"):
					kernel = append(kernel, size.ReplaceAllString(strings.TrimSpace(text), ""))
				}
			}
			if len(kernel) == 0 {
				t.Skip("panic() printed no trace (an oops printed it before)")
			}
			u, err := NewKernel(tg.Dump.Arch(), tg.Kernel, tg.Syms, "")
			if err != nil {
				t.Fatal(err)
			}
			u.Interleave = true
			var panicCPU int
			if a, err := tg.Kernel.Symbol("panic_cpu"); err == nil {
				v, _ := vmem.ReadU32(tg.Dump, a)
				panicCPU = int(v)
			}
			tr := u.UnwindCPU(panicCPU, tg.Dump.CPUs[panicCPU].Regs)
			var ours []string
			for _, f := range tr.Frames {
				if f.Regs == nil { // the kernel prints those as a RIP: line
					ours = append(ours, size.ReplaceAllString(f.String(), ""))
				}
			}
			after := func(l []string) []string {
				i := 0
				for i < len(l) && !strings.HasPrefix(l[i], "panic+") {
					i++
				}
				for i++; i < len(l) && strings.HasPrefix(l[i], "? "); i++ {
				}
				return l[min(i, len(l)):]
			}
			k, o := after(kernel), after(ours)
			if len(k) < 5 || strings.Join(k, "\n") != strings.Join(o, "\n") {
				t.Errorf("kernel's trace above panic():\n%s\nours:\n%s", strings.Join(k, "\n"), strings.Join(o, "\n"))
			}
		})
	}
}
