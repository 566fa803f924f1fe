package unwind

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/panicscope/panicscope/internal/testfixtures"
	"github.com/panicscope/panicscope/vmcore/target"
)

// compilerSuffix is a GCC clone suffix (".constprop.0", ".isra.0", ...):
// drgn names the source function, kallsyms the clone.
var compilerSuffix = regexp.MustCompile(`\.(constprop|isra|part|cold|llvm)\.\d+$|\.cold$`)

// TestRealArm64StacksMatchDrgn walks every CPU of every arm64 dump file
// and compares the functions with drgn's (meta.json, DWARF-based): ours
// must be drgn's list in order, where drgn's extra frames are functions
// inlined everywhere (no kallsyms symbol), up to drgn's "???" if drgn gave
// up. The panicking CPU's walk must be complete down to user mode.
func TestRealArm64StacksMatchDrgn(t *testing.T) {
	for _, fx := range testfixtures.AllArm64(t) {
		facts, _ := fx.Meta.Raw["expected_from_memory_drgn"].(map[string]any)
		cpus, _ := facts["cpus"].(map[string]any)
		for _, file := range fx.Meta.Files {
			t.Run(fx.Name+"/"+file.Name, func(t *testing.T) {
				p := filepath.Join(fx.Dir, file.Name)
				if strings.HasSuffix(p, ".zst") {
					p = testfixtures.Decompressed(t, p)
				}
				tg, err := target.Open(p, target.Options{})
				if err != nil {
					t.Fatal(err)
				}
				defer tg.Close()
				tg.Load()
				if tg.Syms == nil || tg.Kernel.Types == nil {
					t.Fatalf("no symbols or types: %v", tg.Problems())
				}
				u, err := NewKernel(tg.Dump.Arch(), tg.Kernel, tg.Syms, fx.Meta.KernelRelease)
				if err != nil {
					t.Fatal(err)
				}
				if len(u.Problems) > 0 {
					t.Errorf("problems: %v", u.Problems)
				}
				for i, c := range tg.Dump.CPUs {
					ct := u.UnwindCPU(i, c.Regs)
					t.Logf("cpu %d:\n%s", i, ct.String())
					want, _ := cpus[string(rune('0'+i))].(map[string]any)
					if want == nil {
						t.Fatalf("meta.json has no drgn stack for cpu %d", i)
					}
					if ct.Task.PID != int(want["pid"].(float64)) || ct.Task.Comm != want["comm"] {
						t.Errorf("cpu %d: task %s (pid %d), drgn %v (pid %v)", i, ct.Task.Comm, ct.Task.PID, want["comm"], want["pid"])
					}
					var drgn []string
					for _, s := range want["stack"].([]any) {
						drgn = append(drgn, s.(string))
					}
					checkAgainstDrgn(t, tg, i, ct.Trace, drgn)
					if i == fx.Meta.Expected.PanicCPU && (!ct.Complete() || ct.UserRegs == nil) {
						t.Errorf("cpu %d: walk not complete down to user mode: %s %s", i, ct.End, ct.Err)
					}
					// A kdump's other CPU saved the context the crash-stop
					// IPI interrupted: the handler, rebuilt from the IRQ
					// stack, is crash_save_cpu() under ipi_handler().
					if i != fx.Meta.Expected.PanicCPU && strings.HasPrefix(fx.Name, "kdump-") {
						if ct.Handler != StackIRQ || !hasHandler(ct.Trace, "crash_save_cpu") || !hasHandler(ct.Trace, "ipi_handler") {
							t.Errorf("cpu %d: no crash-stop IPI handler rebuilt (handler %q)", i, ct.Handler)
						}
					} else if ct.Handler != "" {
						t.Errorf("cpu %d: handler %q rebuilt", i, ct.Handler)
					}
				}
			})
		}
	}
}

func checkAgainstDrgn(t *testing.T, tg *target.Target, cpu int, tr *Trace, drgn []string) {
	t.Helper()
	truncated := false
	for i, s := range drgn {
		if s == "???" {
			drgn, truncated = drgn[:i], true
			break
		}
	}
	j := 0
	for _, f := range tr.Frames {
		if f.Method == MethodHandler {
			continue // rebuilt from the IRQ stack: drgn starts at the saved registers
		}
		if !f.Reliable {
			t.Errorf("cpu %d: unreliable frame %s", cpu, f)
			continue
		}
		name := compilerSuffix.ReplaceAllString(f.Function, "")
		for j < len(drgn) && drgn[j] != name {
			if _, ok := tg.Syms.Lookup(drgn[j]); ok {
				t.Errorf("cpu %d: drgn's %s (a kallsyms function) missing before %s", cpu, drgn[j], name)
			}
			j++
		}
		if j == len(drgn) {
			if !truncated {
				t.Errorf("cpu %d: %s is not in drgn's stack %v", cpu, name, drgn)
			}
			return
		}
		j++
	}
	if j < len(drgn) {
		t.Errorf("cpu %d: drgn's frames from %s on are missing", cpu, drgn[j])
	}
}

func hasHandler(tr *Trace, name string) bool {
	for _, f := range tr.Frames {
		if f.Method == MethodHandler && f.Function == name {
			return true
		}
	}
	return false
}

// TestRealArm64SleepingTasks walks every task that is not running from
// thread.cpu_context: each walk starts in __switch_to and is complete, at
// ret_from_fork (kernel threads) or in user mode.
func TestRealArm64SleepingTasks(t *testing.T) {
	fx := testfixtures.GetArm64(t, "qemu-arm64-6.12-sysrq")
	tg, err := target.Open(filepath.Join(fx.Dir, "vmcore"), target.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	tg.Load()
	u, err := NewKernel(tg.Dump.Arch(), tg.Kernel, tg.Syms, fx.Meta.KernelRelease)
	if err != nil {
		t.Fatal(err)
	}
	running := map[uint64]bool{}
	for i := range tg.Dump.CPUs {
		if a, err := u.CurrentTask(i); err == nil {
			running[a] = true
		}
	}
	tasks, err := u.Tasks(0)
	if err != nil || len(tasks) < 20 {
		t.Fatalf("%d tasks: %v", len(tasks), err)
	}
	walked := 0
	for _, task := range tasks {
		if running[task.Addr] {
			continue
		}
		tr := u.UnwindTask(task)
		fns := tr.Functions(true)
		last := ""
		if len(fns) > 0 {
			last = fns[len(fns)-1]
		}
		if !tr.Complete() || len(fns) < 3 || fns[0] != "__switch_to" || (tr.End == EndOfStack) != (last == "ret_from_fork") {
			t.Errorf("pid %d %s: %s %q %v", task.PID, task.Comm, tr.End, tr.Err, fns)
		}
		walked++
	}
	t.Logf("%d sleeping tasks walked", walked)
}
