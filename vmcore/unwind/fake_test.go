package unwind_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/panicscope/panicscope/internal/fakeprog"
	"github.com/panicscope/panicscope/vmcore/target"
	"github.com/panicscope/panicscope/vmcore/unwind"
)

// These tests unwind fake kernels (internal/fakeprog): ORC tables, task
// and per-CPU stacks and task lists laid out in Go and read back through
// a dump file, as the unwinder reads a real one.

func openFake(t *testing.T, k *fakeprog.Kernel) (*target.Target, *unwind.Kernel) {
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
	tg.Load()
	if tg.Syms == nil || tg.Kernel.Types == nil {
		t.Fatalf("fake kernel without symbols or types: %v", tg.Problems())
	}
	u, err := unwind.NewKernel(tg.Dump.Arch(), tg.Kernel, tg.Syms, k.Release)
	if err != nil {
		t.Fatal(err)
	}
	return tg, u
}

func cpuTrace(tg *target.Target, u *unwind.Kernel, cpu int) *unwind.CPUTrace {
	return u.UnwindCPU(cpu, tg.Dump.CPUs[cpu].Regs)
}

var panicStack = []string{"__crash_kexec", "panic", "labfake_do_panic", "kthread", "ret_from_fork"}

func TestFakeUnwindCPUs(t *testing.T) {
	s := fakeprog.NewScenario()
	tg, u := openFake(t, s.Kernel)
	if len(u.Problems) != 0 {
		t.Errorf("problems: %v", u.Problems)
	}
	ct := cpuTrace(tg, u, fakeprog.PanicCPU)
	if ct.Task.PID != 121 || ct.Task.Comm != "sh" || ct.Task.Addr != s.PanicTask {
		t.Errorf("current task %+v", ct.Task)
	}
	if got := ct.Functions(true); !slices.Equal(got, panicStack) {
		t.Errorf("frames %v, want %v", got, panicStack)
	}
	if !ct.Complete() || ct.End != unwind.EndOfStack || ct.Handler != "" {
		t.Errorf("end %q (%s), handler %q", ct.End, ct.Err, ct.Handler)
	}
	for i, f := range ct.Frames {
		if !f.Reliable || f.Stack != unwind.StackTask {
			t.Errorf("frame %d %s: reliable %v on %s", i, f, f.Reliable, f.Stack)
		}
	}
	if f := ct.Frames[2]; f.Module != "labfake" || f.Method != unwind.MethodORC {
		t.Errorf("module frame %s: module %q method %s (the module's ORC table)", f, f.Module, f.Method)
	}
	if ct.Frames[0].Method != unwind.MethodRegs {
		t.Errorf("first frame method %s", ct.Frames[0].Method)
	}

	// CPU 0: the crash NMI handler, rebuilt from the NMI stack, then the
	// interrupted idle loop from the saved registers.
	c0 := cpuTrace(tg, u, 0)
	if c0.Handler != "NMI" {
		t.Fatalf("cpu 0 handler %q: %v", c0.Handler, c0.Frames)
	}
	var handler, rest []string
	for _, f := range c0.Frames {
		if f.Method == unwind.MethodHandler {
			if f.Reliable || f.Stack != "NMI" {
				t.Errorf("handler frame %s: reliable %v stack %s", f, f.Reliable, f.Stack)
			}
			handler = append(handler, f.Function)
		} else {
			rest = append(rest, f.Function)
		}
	}
	if want := []string{"nmi_handle", "default_do_nmi", "exc_nmi", "asm_exc_nmi"}; !slices.Equal(handler, want) {
		t.Errorf("handler frames %v, want %v", handler, want)
	}
	if want := []string{"default_idle", "do_idle", "cpu_startup_entry", "start_secondary"}; !slices.Equal(rest, want) {
		t.Errorf("interrupted frames %v, want %v", rest, want)
	}
	if !c0.Complete() {
		t.Errorf("cpu 0: %s %s", c0.End, c0.Err)
	}
	var sb strings.Builder
	c0.Format(&sb)
	if !strings.Contains(sb.String(), "asm_exc_nmi") || !strings.Contains(c0.String(), "default_idle") {
		t.Errorf("formatted trace:\n%s", sb.String())
	}
}

func TestFakeCPUStacks(t *testing.T) {
	s := fakeprog.NewScenario()
	_, u := openFake(t, s.Kernel)
	for cpu := 0; cpu < 2; cpu++ {
		stacks, problems := u.CPUStacks(cpu)
		if len(problems) != 0 {
			t.Errorf("cpu %d: %v", cpu, problems)
		}
		kinds := map[string]unwind.Stack{}
		for _, st := range stacks {
			kinds[st.Kind] = st
		}
		for _, k := range []string{"IRQ", "NMI", "#DF", "#DB", "#MC"} {
			if _, ok := kinds[k]; !ok {
				t.Errorf("cpu %d: no %s stack in %v", cpu, k, stacks)
			}
		}
		b, e := s.ExceptionStack(cpu, "NMI")
		if n := kinds["NMI"]; n.Begin != b || n.End != e || !n.LinkRegs || n.Link != e-unwind.PtRegsSize {
			t.Errorf("cpu %d NMI stack %+v, want %#x-%#x", cpu, n, b, e)
		}
		if irq := kinds["IRQ"]; irq.End-irq.Begin != 16<<10 || irq.Link != irq.End-8 {
			t.Errorf("cpu %d IRQ stack %+v", cpu, irq)
		}
	}
	if _, problems := u.CPUStacks(5); len(problems) == 0 {
		t.Errorf("no problem for a CPU past nr_cpu_ids")
	}
}

func TestFakeTasks(t *testing.T) {
	s := fakeprog.NewScenario()
	_, u := openFake(t, s.Kernel)
	tasks, err := u.Tasks(0)
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, tk := range tasks {
		pids = append(pids, tk.PID)
	}
	// init_task first, then the leaders on init_task.tasks, then threads.
	if !slices.Equal(pids, []int{0, 121, 40, 41}) {
		t.Errorf("pids %v", pids)
	}
	if few, err := u.Tasks(2); len(few) != 2 {
		t.Errorf("Tasks(2): %d tasks, %v", len(few), err)
	}

	sleeper, err := u.ReadTask(s.Sleeper)
	if err != nil || sleeper.Comm != "kworker/0:1" || sleeper.SavedSP == 0 {
		t.Fatalf("sleeper %+v %v", sleeper, err)
	}
	tr := u.UnwindTask(sleeper)
	if want := []string{"__schedule", "schedule", "worker_thread", "kthread", "ret_from_fork"}; !slices.Equal(tr.Functions(true), want) || !tr.Complete() {
		t.Errorf("sleeper: %v (%s %s), want %v", tr.Functions(false), tr.End, tr.Err, want)
	}
	if tr.Frames[0].Method != unwind.MethodSaved {
		t.Errorf("first frame method %s", tr.Frames[0].Method)
	}
	// A task that never ran has no saved context.
	thr, err := u.ReadTask(s.Thread)
	if err != nil {
		t.Fatal(err)
	}
	if tr := u.UnwindTask(thr); tr.End != unwind.EndNoStack {
		t.Errorf("task without thread.sp: %s", tr.End)
	}
	// An address that is no task.
	if _, err := u.ReadTask(fakeprog.Phys(fakeprog.MemSize - fakeprog.PageSize)); err == nil {
		t.Errorf("read a task from absent memory")
	}
}

// The 6.4+ ORC layout is told from struct orc_entry in BTF.
func TestFakeORCv3(t *testing.T) {
	s := fakeprog.NewScenario()
	s.ORCv3 = true
	tg, u := openFake(t, s.Kernel)
	if u.ORC == nil || u.ORC.Layout != unwind.LayoutV3 {
		t.Fatalf("layout: %+v", u.ORC)
	}
	if got := cpuTrace(tg, u, fakeprog.PanicCPU).Functions(true); !slices.Equal(got, panicStack) {
		t.Errorf("frames %v", got)
	}
}

// Without ORC tables the walk still finds the callers: each return
// address follows a direct call to the function being left.
func TestFakeNoORC(t *testing.T) {
	s := fakeprog.NewScenario()
	s.NoORC = true
	tg, u := openFake(t, s.Kernel)
	if len(u.Problems) == 0 || u.ORC != nil {
		t.Fatalf("no problem without ORC tables: %v", u.Problems)
	}
	_, _, err := unwind.LoadTable(tg.Kernel, s.Release)
	if !errors.Is(err, unwind.ErrNoORC) {
		t.Errorf("LoadTable: %v", err)
	}
	ct := cpuTrace(tg, u, fakeprog.PanicCPU)
	got := ct.Functions(false)
	if len(got) < 4 || !slices.Equal(got[:4], panicStack[:4]) {
		t.Errorf("frames %v, want %v first", got, panicStack[:4])
	}
	if ct.Complete() || ct.Err == "" {
		t.Errorf("a walk without ORC claims completeness: %s", ct.End)
	}
	for _, f := range ct.Frames[1:] {
		if f.Method == unwind.MethodORC {
			t.Errorf("frame %s by ORC without tables", f)
		}
	}
}

// An ORC hole (an undefined entry) in panic(): the walk goes on from the
// call site and says what happened.
func TestFakeORCHole(t *testing.T) {
	s := fakeprog.NewScenario()
	s.UndefinedORC(s.Funcs["panic"])
	tg, u := openFake(t, s.Kernel)
	ct := cpuTrace(tg, u, fakeprog.PanicCPU)
	if got := ct.Functions(false); len(got) < 3 || !slices.Equal(got[:3], panicStack[:3]) {
		t.Errorf("frames %v", got)
	}
	if !strings.Contains(ct.Err, "undefined") {
		t.Errorf("err %q does not name the hole", ct.Err)
	}
	if ct.Frames[2].Method == unwind.MethodORC {
		t.Errorf("frame after the hole by ORC: %s", ct.Frames[2].Method)
	}
}

// 6.2 .. 6.14 keep the current task in struct pcpu_hot.
func TestFakePcpuHot(t *testing.T) {
	k := fakeprog.New("6.6.0-fake", 1)
	ty := k.Types()
	ty.Struct("pcpu_hot", fakeprog.F("current_task", ty.T("struct task_struct *")), fakeprog.F("preempt_count", ty.T("int")),
		fakeprog.F("cpu_number", ty.T("int")), fakeprog.F("hardirq_stack_ptr", ty.T("void *")))
	hot := k.PerCPUVar("pcpu_hot", ty.Sizeof("struct pcpu_hot"))
	a, b := k.Func("fake_halt"), k.Func("fake_entry")
	k.EndOfStack(b)
	task := k.Task(7, "hot")
	k.PutU64(k.PerCPUAddr(hot+ty.Offset("struct pcpu_hot", "current_task"), 0), task)
	k.SaveCPU(0, task, 7, k.CallStack(task, a, b))
	tg, u := openFake(t, k)
	ct := cpuTrace(tg, u, 0)
	if ct.Task.PID != 7 || !slices.Equal(ct.Functions(true), []string{"fake_halt", "fake_entry"}) {
		t.Errorf("task %+v frames %v (%s)", ct.Task, ct.Functions(false), ct.Err)
	}
	// No IRQ or exception stacks in this kernel: problems, not failures.
	if len(ct.Problems) == 0 {
		t.Errorf("no problem about the missing per-CPU stacks")
	}
}

// A module ORC table that cannot be used is a problem naming the module;
// the module's text range is still known and the others work.
func TestFakeModuleORCProblems(t *testing.T) {
	s := fakeprog.NewScenario()
	bad := s.AddModule("bad", 0, "bad_fn")
	bad.ORCCount = 1 << 30
	_, u := openFake(t, s.Kernel)
	if p := fmt.Sprint(u.Problems); !strings.Contains(p, "module bad: num_orcs") || strings.Contains(p, "labfake") {
		t.Errorf("problems: %s", p)
	}
	if u.ORC == nil || len(u.ORC.Modules) != 2 {
		t.Fatalf("modules: %+v", u.ORC)
	}
	if m, ok := u.ORC.ModuleAt(bad.Func("bad_fn")); !ok || m.Name != "bad" || m.Num != 0 {
		t.Errorf("bad module: %+v %v", m, ok)
	}
}

func fpKernel(noORC bool) *fakeprog.Kernel {
	k := fakeprog.New("6.1.0-fake", 1)
	k.NoORC = noORC
	var fns []uint64
	for _, n := range []string{"fp_leaf", "fp_mid", "fp_top", "fp_thread"} {
		fns = append(fns, k.Func(n))
	}
	for _, f := range fns[:3] {
		k.FramePointerORC(f)
	}
	k.EndOfStack(fns[3])
	task := k.Task(9, "fp")
	k.SetCPU(0, task, 9, k.CallStackFP(task, fns...))
	return k
}

var fpStack = []string{"fp_leaf", "fp_mid", "fp_top", "fp_thread"}

// ORC entries of frame-pointer functions: CFA from BP, the caller's BP
// read from the frame record.
func TestFakeFramePointerORC(t *testing.T) {
	tg, u := openFake(t, fpKernel(false))
	ct := cpuTrace(tg, u, 0)
	if got := ct.Functions(true); !slices.Equal(got, fpStack) || !ct.Complete() {
		t.Errorf("frames %v (%s %s), want %v", ct.Functions(false), ct.End, ct.Err, fpStack)
	}
}

// Without ORC, the BP chain is followed as a guess: the calls are
// indirect, so nothing confirms the callers, and the frames are unreliable.
func TestFakeFramePointersWithoutORC(t *testing.T) {
	tg, u := openFake(t, fpKernel(true))
	ct := cpuTrace(tg, u, 0)
	got := ct.Functions(false)
	if len(got) < len(fpStack) || !slices.Equal(got[:len(fpStack)], fpStack) {
		t.Fatalf("frames %v, want %v first", got, fpStack)
	}
	for _, f := range ct.Frames[1:len(fpStack)] {
		if f.Method != unwind.MethodFP || f.Reliable {
			t.Errorf("frame %s: method %s reliable %v, want an unreliable frame-pointer guess", f, f.Method, f.Reliable)
		}
	}
	if ct.Complete() {
		t.Errorf("a guessed walk is complete")
	}
}

// A CPU interrupted into its IRQ stack: the walk follows the saved stack
// pointer at the top of the IRQ stack back to the task's stack.
func TestFakeIRQStack(t *testing.T) {
	k := fakeprog.New("6.1.0-fake", 1)
	k.CPUStacks()
	var irq, task []uint64
	for _, n := range []string{"handle_irq_event", "handle_edge_irq", "__common_interrupt"} {
		irq = append(irq, k.Func(n))
	}
	for _, n := range []string{"common_interrupt", "default_idle", "do_idle", "start_secondary"} {
		task = append(task, k.Func(n))
	}
	k.EndOfStack(task[len(task)-1])
	tk := k.Task(0, "swapper/0")
	k.SetCPU(0, tk, 0, k.IRQStack(0, tk, irq, task))
	tg, u := openFake(t, k)
	ct := cpuTrace(tg, u, 0)
	want := []string{"handle_irq_event", "handle_edge_irq", "__common_interrupt", "common_interrupt", "default_idle", "do_idle", "start_secondary"}
	if got := ct.Functions(true); !slices.Equal(got, want) || !ct.Complete() {
		t.Fatalf("frames %v (%s %s), want %v", ct.Functions(false), ct.End, ct.Err, want)
	}
	for i, f := range ct.Frames {
		wantStack := unwind.StackTask
		if i < len(irq) {
			wantStack = "IRQ"
		}
		if f.Stack != wantStack {
			t.Errorf("frame %d %s on %s, want %s", i, f, f.Stack, wantStack)
		}
	}
}
