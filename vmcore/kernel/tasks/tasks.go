// Package tasks walks the kernel's tasks and reads what `ps` shows of each:
// pid, parent, CPU, state and comm, plus which task each CPU's runqueue was
// running. Every walk is bounded and reports where it broke.
package tasks

import (
	"errors"
	"fmt"
	"sort"

	"github.com/panicscope/panicscope/vmcore/kernel"
)

// MaxTasks bounds one walk (PID_MAX_LIMIT is 4M; a dump with more is hostile).
const MaxTasks = 1 << 22

// Task is one task_struct as ps shows it. Pointers are nil when the field
// could not be read.
type Task struct {
	Addr   uint64 `json:"task"`
	PID    int    `json:"pid"`
	TGID   *int   `json:"tgid"`
	PPID   *int   `json:"ppid"`
	CPU    *int   `json:"cpu"`
	State  string `json:"state"` // crash's two letters: RU IN UN ID ST TR ZO DE PA WA NE; "??" unreadable
	Comm   string `json:"comm"`
	Kernel bool   `json:"kernel_thread"` // mm == NULL
	// Active is the CPU whose runqueue's curr this task is (crash's '>').
	Active *int   `json:"active_on,omitempty"`
	Err    string `json:"error,omitempty"`
}

// Walk lists every task: init_task, the thread-group leaders on its tasks
// list, each leader's threads, the per-CPU idle tasks (rq->idle, which are
// on no list) and each CPU's current task, in PID order. A list that breaks ends the walk of that
// list only; the error says where.
func Walk(k *kernel.Kernel, max int) ([]Task, error) {
	if max <= 0 || max > MaxTasks {
		max = MaxTasks
	}
	addrs, err := Addrs(k, max)
	idle, active, rqErr := runqueues(k)
	seen := map[uint64]bool{}
	for _, a := range addrs {
		seen[a] = true
	}
	// The idle tasks, and each CPU's current task (rq->curr) when the
	// list walk did not reach it (a trimmed or damaged dump).
	extra := append([]uint64(nil), idle...)
	for a := range active {
		extra = append(extra, a)
	}
	sort.Slice(extra[len(idle):], func(i, j int) bool { return extra[len(idle)+i] < extra[len(idle)+j] })
	for _, a := range extra {
		if !seen[a] && len(addrs) < max {
			addrs = append(addrs, a)
			seen[a] = true
		}
	}
	out := make([]Task, 0, len(addrs))
	for _, a := range addrs {
		t := Read(k, a)
		if cpu, ok := active[a]; ok {
			c := cpu
			t.Active = &c
		}
		out = append(out, t)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].PID != out[j].PID {
			return out[i].PID < out[j].PID
		}
		return cpuOrder(out[i]) < cpuOrder(out[j])
	})
	return out, errors.Join(err, rqErr)
}

func cpuOrder(t Task) int {
	if t.CPU == nil {
		return -1
	}
	return *t.CPU
}

// Addrs lists the task_struct addresses reachable from init_task: leaders
// through init_task.tasks, threads through thread_group (before 6.7) or
// signal->thread_head (kernel/fork.c, include/linux/sched/signal.h).
func Addrs(k *kernel.Kernel, max int) ([]uint64, error) {
	init, err := k.Symbol("init_task")
	if err != nil {
		return nil, err
	}
	tasksOff, err := k.OffsetOf("struct task_struct", "tasks")
	if err != nil {
		return nil, err
	}
	var out []uint64
	seen := map[uint64]bool{}
	add := func(a uint64) error {
		if seen[a] {
			return nil
		}
		if len(out) >= max {
			return kernel.ErrStop
		}
		seen[a] = true
		out = append(out, a)
		return nil
	}
	_ = add(init)
	leaders := []uint64{init}
	var errs []error
	if err := k.ListForEach(init+tasksOff, max, func(node uint64) error {
		leaders = append(leaders, node-tasksOff)
		return add(node - tasksOff)
	}); err != nil {
		errs = append(errs, fmt.Errorf("init_task.tasks: %w", err))
	}
	for _, l := range leaders {
		if len(out) >= max {
			break
		}
		if err := threads(k, l, max, add); err != nil && !errors.Is(err, kernel.ErrStop) {
			errs = append(errs, fmt.Errorf("threads of task %#x: %w", l, err))
		}
	}
	return out, errors.Join(errs...)
}

func threads(k *kernel.Kernel, leader uint64, max int, add func(uint64) error) error {
	if off, err := k.OffsetOf("struct task_struct", "thread_group"); err == nil {
		return k.ListForEach(leader+off, max, func(node uint64) error { return add(node - off) })
	}
	o, err := k.Object(leader, "struct task_struct")
	if err != nil {
		return err
	}
	head, err := o.Member("signal->thread_head")
	if err != nil {
		return err
	}
	off, err := k.OffsetOf("struct task_struct", "thread_node")
	if err != nil {
		return err
	}
	return k.ListForEach(head.Addr, max, func(node uint64) error { return add(node - off) })
}

// runqueues reads each CPU's rq->idle and rq->curr (kernel/sched/sched.h):
// the idle tasks are on no task list, and curr is what the CPU ran.
func runqueues(k *kernel.Kernel) (idle []uint64, active map[uint64]int, err error) {
	active = map[uint64]int{}
	rq, err := k.Symbol("runqueues")
	if err != nil {
		return nil, active, err
	}
	var errs []error
	for cpu := 0; cpu < k.NrCPUIDs(); cpu++ {
		a, err := k.PerCPU(rq, cpu)
		if err != nil {
			break // past the last possible CPU
		}
		o, err := k.Object(a, "struct rq")
		if err != nil {
			return idle, active, err
		}
		if p, err := pointer(o, "idle"); err == nil && p != 0 {
			idle = append(idle, p)
		} else if err != nil {
			errs = append(errs, fmt.Errorf("cpu %d rq->idle: %w", cpu, err))
		}
		if p, err := pointer(o, "curr"); err == nil && p != 0 {
			active[p] = cpu
		}
	}
	return idle, active, errors.Join(errs...)
}

// Read reads one task; what cannot be read is nil or "??", and Err says why.
func Read(k *kernel.Kernel, addr uint64) Task {
	t := Task{Addr: addr, PID: -1, State: "??"}
	o, err := k.Object(addr, "struct task_struct")
	if err != nil {
		t.Err = err.Error()
		return t
	}
	if v, err := intMember(o, "pid"); err == nil {
		t.PID = v
	} else {
		t.Err = fmt.Sprintf("pid: %v", err)
		return t
	}
	if v, err := intMember(o, "tgid"); err == nil {
		t.TGID = &v
	}
	if p, err := o.Member("real_parent->pid"); err == nil {
		if v, err := p.Int(); err == nil {
			pp := int(v)
			t.PPID = &pp
		}
	}
	for _, path := range []string{"cpu", "thread_info.cpu"} {
		if v, err := intMember(o, path); err == nil {
			t.CPU = &v
			break
		}
	}
	if c, err := o.Member("comm"); err == nil {
		t.Comm, _ = c.CString(16)
	}
	if mm, err := pointer(o, "mm"); err == nil {
		t.Kernel = mm == 0
	}
	t.State = state(o)
	return t
}

// Task state bits (include/linux/sched.h; the same values since 4.14).
const (
	taskInterruptible   = 0x1
	taskUninterruptible = 0x2
	taskStopped         = 0x4
	taskTraced          = 0x8
	exitDead            = 0x10
	exitZombie          = 0x20
	taskParked          = 0x40
	taskDead            = 0x80
	taskWaking          = 0x200
	taskNoload          = 0x400
	taskNew             = 0x800
)

// state is crash's two-letter state (task_state_string()): __state since
// 5.14, state before; exit_state first.
func state(o kernel.Object) string {
	if v, err := o.Member("exit_state"); err == nil {
		if es, err := v.Uint(); err == nil {
			switch {
			case es&exitZombie != 0:
				return "ZO"
			case es&exitDead != 0:
				return "DE"
			}
		}
	}
	var st uint64
	var err error = kernel.ErrAbsent
	for _, name := range []string{"__state", "state"} {
		var m kernel.Object
		if m, err = o.Member(name); err == nil {
			st, err = m.Uint()
			break
		}
	}
	if err != nil {
		return "??"
	}
	switch {
	case st == 0:
		return "RU"
	case st&taskInterruptible != 0:
		return "IN"
	case st&taskUninterruptible != 0 && st&taskNoload != 0:
		return "ID"
	case st&taskUninterruptible != 0:
		return "UN"
	case st&taskStopped != 0:
		return "ST"
	case st&taskTraced != 0:
		return "TR"
	case st&taskParked != 0:
		return "PA"
	case st&(taskDead|exitDead) != 0:
		return "DE"
	case st&taskWaking != 0:
		return "WA"
	case st&taskNew != 0:
		return "NE"
	}
	return fmt.Sprintf("%#x", st)
}

func intMember(o kernel.Object, path string) (int, error) {
	m, err := o.Member(path)
	if err != nil {
		return 0, err
	}
	v, err := m.Int()
	return int(v), err
}

func pointer(o kernel.Object, path string) (uint64, error) {
	m, err := o.Member(path)
	if err != nil {
		return 0, err
	}
	return m.Pointer()
}
