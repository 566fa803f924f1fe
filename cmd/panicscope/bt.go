package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/panicscope/panicscope/vmcore/analysis"
	"github.com/panicscope/panicscope/vmcore/arch"
	"github.com/panicscope/panicscope/vmcore/kernel"
	"github.com/panicscope/panicscope/vmcore/phys"
	"github.com/panicscope/panicscope/vmcore/target"
	"github.com/panicscope/panicscope/vmcore/unwind"
)

// btFrame is one frame in bt --json.
type btFrame struct {
	Function string        `json:"function"`
	Offset   uint64        `json:"offset"`
	Size     uint64        `json:"size"`
	Module   string        `json:"module,omitempty"`
	PC       string        `json:"pc"`
	SP       string        `json:"sp"`
	Stack    string        `json:"stack"`
	Reliable bool          `json:"reliable"`
	Method   unwind.Method `json:"method"`
	Regs     *arch.Regs    `json:"regs,omitempty"`
}

// btTrace is one stack in bt --json; frames are innermost first.
type btTrace struct {
	CPU       int        `json:"cpu"` // -1: a task not running on a CPU
	PID       int        `json:"pid"`
	Comm      string     `json:"comm"`
	Task      string     `json:"task"`
	Panicking bool       `json:"panicking"`
	Start     string     `json:"start"` // "cpu registers" or "saved context"
	End       string     `json:"end"`
	Complete  bool       `json:"complete"`
	Error     string     `json:"error,omitempty"`
	Frames    []btFrame  `json:"frames"`
	UserRegs  *arch.Regs `json:"user_regs,omitempty"`
	Problems  []string   `json:"problems,omitempty"`

	trace *unwind.Trace
}

func runBt(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bt", stdout)
	var tf targetFlags
	tf.register(fs)
	cpu := fs.Int("cpu", -1, "only CPU `N`'s active stack")
	pid := fs.Int("pid", -1, "only the task with `PID` (its CPU's registers if it is running, else its saved context)")
	all := fs.Bool("all", false, "every CPU, then every task not running on a CPU")
	// crash's bt -a: the active task of every CPU, which is bt's default.
	fs.Bool("a", false, "every CPU's active task (the default; as crash's bt -a)")
	asJSON := fs.Bool("json", false, "print a JSON list of stacks")
	depth := fs.Int("depth", unwind.DefaultMaxDepth, "at most `N` frames per stack")
	scan := fs.Bool("scan", false, "also list the other text addresses on the stack between frames, marked ?, as the kernel's own traces do")
	dump, _, err := tf.parse(fs, args, 0, 0, "usage: panicscope bt DUMP|--live [--cpu N | --pid P | --all] [--json]")
	if err != nil {
		return err
	}
	if n := countSet(*cpu >= 0, *pid >= 0, *all); n > 1 {
		return usagef("bt: --cpu, --pid and --all choose different stacks: give one")
	}
	if tf.live && *pid < 0 && !*all {
		return usagef("bt --live: running CPUs save no registers; use --pid P or --all for tasks that are not running")
	}
	t, err := tf.open(dump, stderr)
	if err != nil {
		return err
	}
	defer t.Close()
	if err := t.LoadTypes(); t.Syms == nil {
		warnProblems(stderr, t.Problems())
		return fmt.Errorf("no symbols available for this dump: stacks cannot be walked: %w", err)
	}
	release := ""
	if info := t.Dump.VMCOREINFO(); info != nil {
		release = info.OSRelease()
	}
	u, err := unwind.NewKernel(t.Dump.Arch(), t.Kernel, t.Syms, release)
	if err != nil {
		return err
	}
	u.MaxDepth, u.Interleave = *depth, *scan
	warnProblems(stderr, u.Problems)
	if tf.live {
		// A task's saved context changes under the reader; walks may break.
		fmt.Fprintln(stderr, "panicscope: bt --live: stacks of tasks that are not running, read while the system runs")
	}
	traces, err := btTraces(t, u, *cpu, *pid, *all)
	var incomplete errIncompleteTasks
	if errors.As(err, &incomplete) {
		// Printed at the end too, where a reader of --all looks last.
		defer fmt.Fprintln(stderr, "panicscope: warning: bt --all:", incomplete.msg)
	} else if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(traces)
	}
	for i, tr := range traces {
		if i > 0 {
			fmt.Fprintln(stdout)
		}
		where := fmt.Sprintf("CPU: %d", tr.CPU)
		if tr.CPU < 0 {
			where = "CPU: -"
		}
		head := fmt.Sprintf("PID: %-6d TASK: %s  %s  COMMAND: %q", tr.PID, tr.Task, where, tr.Comm)
		if tr.Panicking {
			head += "  [panicking]"
		}
		fmt.Fprintf(stdout, "%s  (from %s)\n", head, tr.Start)
		for _, p := range tr.Problems {
			fmt.Fprintf(stdout, "    problem: %s\n", p)
		}
		tr.trace.Format(stdout)
	}
	return nil
}

// btTraces selects and walks the stacks asked for.
func btTraces(t *target.Target, u *unwind.Kernel, cpu, pid int, all bool) ([]btTrace, error) {
	panicCPU := -1
	if !t.Dump.Live() {
		// The report's panicking CPU (panic_cpu, validated), so bt and
		// report never disagree.
		if c := analysis.Build(t).Panic.CPU; c != nil {
			panicCPU = *c
		}
	}
	var out []btTrace
	running := map[uint64]int{} // task -> CPU
	cpuTrace := func(i int) btTrace {
		ct := u.UnwindCPU(i, t.Dump.CPUs[i].Regs)
		running[ct.Task.Addr] = i
		bt := newBt(ct.Trace, ct.Task, i, "cpu registers")
		bt.Panicking = i == panicCPU
		bt.Problems = ct.Problems
		return bt
	}
	switch {
	case cpu >= 0:
		if cpu >= len(t.Dump.CPUs) {
			return nil, fmt.Errorf("cpu %d: the dump has registers for %d CPUs", cpu, len(t.Dump.CPUs))
		}
		return []btTrace{cpuTrace(cpu)}, nil
	case pid >= 0:
		for i := range t.Dump.CPUs {
			if addr, err := u.CurrentTask(i); err == nil {
				if task, err := u.ReadTask(addr); err == nil && task.PID == pid {
					return []btTrace{cpuTrace(i)}, nil
				}
			}
		}
		tasks, err := u.Tasks(0)
		for _, task := range tasks {
			if task.PID == pid {
				return []btTrace{newBt(u.UnwindTask(task), task, -1, "saved context")}, nil
			}
		}
		if err != nil {
			// The list could not be walked whole: "not found" would claim
			// an absence the dump cannot show.
			return nil, fmt.Errorf("pid %d is not among the %d tasks read, and the task list is incomplete (%s): whether it exists is unknown", pid, len(tasks), walkCause(err))
		}
		return nil, fmt.Errorf("pid %d not found (the task list was walked whole: %d tasks)", pid, len(tasks))
	}
	for i := range t.Dump.CPUs {
		out = append(out, cpuTrace(i))
	}
	if !all {
		return out, nil
	}
	tasks, err := u.Tasks(0)
	for _, task := range tasks {
		if _, ok := running[task.Addr]; ok {
			continue
		}
		out = append(out, newBt(u.UnwindTask(task), task, -1, "saved context"))
	}
	if err != nil {
		taskErr := fmt.Sprintf("the task list is incomplete (%s): only %s read, other tasks may exist", walkCause(err), countText(len(tasks), "task was", "tasks were"))
		out[0].Problems = append(out[0].Problems, taskErr)
		return out, errIncompleteTasks{taskErr}
	}
	return out, nil
}

// errIncompleteTasks: bt --all printed what it could; the task list broke.
type errIncompleteTasks struct{ msg string }

func (e errIncompleteTasks) Error() string { return e.msg }

// walkCause says in a few words where and why a list walk stopped: "the
// walk broke after 0 entries at 0xffff8b93011f8890: excluded from the dump".
func walkCause(err error) string {
	var le *kernel.ListError
	if !errors.As(err, &le) {
		return err.Error()
	}
	why := le.Reason
	var me *phys.MissingError
	if errors.As(err, &me) {
		why = fmt.Sprint(me.Reason)
	}
	return fmt.Sprintf("the walk broke after %d entries at %#x: %s", le.Count, le.At, why)
}

func newBt(tr *unwind.Trace, task unwind.Task, cpu int, start string) btTrace {
	bt := btTrace{CPU: cpu, PID: task.PID, Comm: task.Comm, Task: fmt.Sprintf("%016x", task.Addr), Start: start,
		End: tr.End, Complete: tr.Complete(), Error: tr.Err, UserRegs: tr.UserRegs, Frames: []btFrame{}, trace: tr}
	for _, f := range tr.Frames {
		bt.Frames = append(bt.Frames, btFrame{Function: f.Function, Offset: f.Offset, Size: f.Size, Module: f.Module,
			PC: fmt.Sprintf("%#x", f.PC), SP: fmt.Sprintf("%#x", f.SP), Stack: f.Stack, Reliable: f.Reliable,
			Method: f.Method, Regs: f.Regs})
	}
	return bt
}

func countText(n int, one, several string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, several)
}
