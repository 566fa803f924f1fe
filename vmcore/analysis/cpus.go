package analysis

import (
	"debug/elf"
	"fmt"
	"strconv"
	"strings"

	"github.com/panicscope/panicscope/vmcore"
	"github.com/panicscope/panicscope/vmcore/finding"
	"github.com/panicscope/panicscope/vmcore/kernel"
	"github.com/panicscope/panicscope/vmcore/target"
	"github.com/panicscope/panicscope/vmcore/unwind"
)

// Role is what a CPU was doing when the dump was taken.
type Role string

// CPU roles. RoleUnknown is a status, not a guess: RoleWhy says what was
// missing.
const (
	RolePanicking Role = "panicking"
	RoleCrashNMI  Role = "stopped (crash NMI)"
	RoleCrashIPI  Role = "stopped (crash IPI)"
	RoleStopped   Role = "stopped (stop IPI/NMI)"
	// RoleLostRace: the CPU also called panic() and lost the panic_cpu
	// race: it parks in panic_smp_self_stop() (or nmi_panic_self_stop()
	// from an NMI), kernel/panic.c.
	RoleLostRace Role = "also panicked (lost the panic_cpu race)"
	RoleIdle     Role = "idle"
	RoleRunning  Role = "running"
	RoleUnknown  Role = "unknown"
)

// stopFunctions are where a CPU halted by smp_send_stop() /
// crash_smp_send_stop() sits: stop_this_cpu() (arch/x86/kernel/process.c)
// reached from the REBOOT_VECTOR IPI or the stop NMI; on arm64
// local_cpu_stop() → cpu_park_loop() from IPI_CPU_STOP, and
// ipi_cpu_crash_stop() from IPI_CPU_CRASH_STOP (arch/arm64/kernel/smp.c).
var stopFunctions = []string{"stop_this_cpu", "smp_stop_nmi_callback", "crash_nmi_callback", "nmi_shootdown_cpus",
	"local_cpu_stop", "cpu_park_loop", "ipi_cpu_crash_stop"}

// raceFunctions park a CPU that entered panic() after another had
// (panic_smp_self_stop(), nmi_panic_self_stop(): kernel/panic.c).
var raceFunctions = []string{"panic_smp_self_stop", "nmi_panic_self_stop"}

// idleFunctions are the idle loop's halting points (arm64: cpu_do_idle()
// under default_idle_call()).
var idleFunctions = []string{"default_idle", "native_safe_halt", "pv_native_safe_halt", "arch_cpu_idle", "do_idle", "cpu_idle_poll", "mwait_idle", "acpi_idle_do_entry", "intel_idle",
	"cpu_do_idle", "default_idle_call"}

// readCPUs describes each CPU from its saved registers and current task.
// The panicking CPU is panic_cpu in memory (kernel/panic.c): the dump
// headers' current_cpu fields are 0 whichever CPU panicked.
func readCPUs(t *target.Target, r *Report) {
	switch {
	case r.panicCPU != nil && *r.panicCPU >= 0:
		r.Panic.CPU = ptr(int(*r.panicCPU))
		r.Panic.CPUSource = "panic_cpu in memory"
	case r.panicCPU != nil:
		r.Panic.CPUSource = "panic_cpu is -1 (PANIC_CPU_INVALID): no panic() was entered"
	default:
		r.Panic.CPUSource = "panic_cpu could not be read"
		for _, p := range r.Problems.About(finding.AreaParams) {
			if p.Subject.ID == "panic_cpu" || p.Subject.ID == "" {
				r.Panic.CPUSource += ": " + p.Err.Error()
				break
			}
		}
	}
	unw := cpuUnwinder(t, r)
	for i, c := range t.Dump.CPUs {
		cs := CPUState{CPU: i, IP: ptr(hex(c.Regs.PC)), SP: ptr(hex(c.Regs.SP)), Role: RoleUnknown}
		// The IP's symbol, nil when no symbol holds it (or none were read):
		// a bare address is not a symbol.
		fn := ""
		if t.Syms != nil {
			if s, _, ok := t.Syms.ByAddr(c.Regs.PC); ok {
				sym := t.Syms.Format(c.Regs.PC)
				cs.IPSymbol, fn = &sym, s.Name
			}
		}
		cs.Regs = registersOf(c.Regs)
		subject := finding.About(finding.AreaCPU, strconv.Itoa(i))
		if task, err := currentTask(t.Kernel, i); err == nil {
			cs.Task = ptr(hex(task.Addr))
			if pid, err := memberInt(task, "pid"); err == nil {
				cs.TaskPID = ptr(int(pid))
			} else {
				r.Problems.Add(finding.New(kindOf(err), subject, fmt.Errorf("current task pid: %w", err)))
			}
			if comm, err := task.Member("comm"); err == nil {
				if s, err := comm.CString(16); err == nil {
					cs.TaskComm = &s
				}
			}
		} else if t.Syms != nil {
			// Without symbols the cause is already in Problems.
			r.Problems.Add(finding.New(kindOf(err), subject, fmt.Errorf("current task: %w", err)))
		}
		stack := cpuStack(unw, r, i, c, &cs)
		handler := cs.RoleWhy
		cs.Role, cs.RoleWhy = cpuRole(r, i, c, fn, stack, handler, isArm64(t))
		if handler != "" {
			cs.RoleWhy += "; its " + handler
		}
		if t.Dump.Live() {
			// A running CPU saves no registers: only its current task is known.
			cs.IP, cs.SP, cs.IPSymbol, cs.Regs = nil, nil, nil, nil
			cs.Role, cs.RoleWhy = RoleRunning, "live system: the current task is read from per-CPU memory; registers are not saved"
		}
		if r.Panic.CPU != nil && i == *r.Panic.CPU {
			r.Panic.TaskPID, r.Panic.TaskComm = cs.TaskPID, cs.TaskComm
		}
		r.CPUs = append(r.CPUs, cs)
	}
}

func cpuRole(r *Report, i int, c vmcore.CPU, fn string, stack []string, handler string, arm64 bool) (role Role, why string) {
	where := "instruction pointer in " + fn
	if fn == "" {
		where = "instruction pointer in no known symbol"
	}
	if len(stack) > 0 {
		where = "stack: " + stackText(stack)
	}
	// A kdump's other CPUs saved their registers when the crash NMI/IPI
	// stopped them; the CPU that entered the crash kernel saved its own.
	// Which is which needs panic_cpu, or the stop handler on the stack.
	otherStopped := r.Panic.CPU != nil || strings.Contains(handler, "crash_nmi_callback") ||
		strings.Contains(handler, "ipi_cpu_crash_stop") || strings.Contains(handler, "crash_save_cpu")
	switch {
	case r.Panic.CPU != nil && i == *r.Panic.CPU:
		// QEMU dumps catch panic() in its final delay loop (delay_tsc <-
		// panic); kdump dumps hold the registers crash_setup_regs() took in
		// __crash_kexec() <- panic() just before machine_kexec().
		return RolePanicking, "panic_cpu = " + fmt.Sprint(i) + "; " + where
	case r.Kernel.Capture == CaptureKdump && c.HasStatus && !otherStopped:
		return RoleUnknown, "the panicking CPU is unknown (panic_cpu not read): this CPU either entered the crash kernel or was stopped by it; " + where
	case r.Kernel.Capture == CaptureKdump && c.HasStatus && arm64:
		// machine_crash_shutdown() -> crash_smp_send_stop(): each other
		// CPU took IPI_CPU_CRASH_STOP and saved, in ipi_cpu_crash_stop()
		// -> crash_save_cpu(), the registers the IPI interrupted
		// (arch/arm64/kernel/smp.c); the walk from them is the
		// interrupted stack.
		return RoleCrashIPI, "kdump capture: registers saved by ipi_cpu_crash_stop() where the crash-stop IPI interrupted the CPU; interrupted " + where
	case r.Kernel.Capture == CaptureKdump && c.HasStatus:
		// machine_crash_shutdown() -> nmi_shootdown_cpus(): each other CPU
		// saved its registers in crash_nmi_callback() -> crash_save_cpu().
		// Those are the pt_regs the NMI entry code pushed, i.e. the context
		// the NMI interrupted, so the stack walked from them is the
		// interrupted one (often the idle loop). The NMI handler itself
		// (crash_nmi_callback() halted on the NMI stack) is not in them.
		return RoleCrashNMI, "kdump capture: registers saved by crash_nmi_callback() where the crash NMI interrupted the CPU; interrupted " + where
	case containsAny(stack, raceFunctions) || contains(raceFunctions, fn):
		return RoleLostRace, "in panic() too, parked after losing the panic_cpu race; " + where
	case containsAny(stack, stopFunctions) || contains(stopFunctions, fn):
		return RoleStopped, where
	case len(stack) > 0 && contains(idleFunctions, stack[0]) || len(stack) == 0 && contains(idleFunctions, fn):
		return RoleIdle, where
	case fn != "" && r.Panic.CPU == nil && r.Kernel.Capture != CaptureLive:
		// Not stopped, not idle: it may be the CPU that panicked.
		return RoleUnknown, "the panicking CPU is unknown (panic_cpu not read), and this CPU is neither stopped nor idle; " + where
	case fn != "":
		return RoleRunning, where
	}
	return RoleUnknown, "no symbol for the instruction pointer"
}

// cpuUnwinder binds the ORC unwinder (vmcore/unwind) to the dump; nil when
// symbols or types are missing.
func cpuUnwinder(t *target.Target, r *Report) *unwind.Kernel {
	if t.Syms == nil || t.Kernel.Types == nil {
		return nil
	}
	u, err := unwind.NewKernel(t.Dump.Arch(), t.Kernel, t.Syms, str(r.Kernel.Release))
	if err != nil {
		r.problemf(finding.NoSource, finding.About(finding.AreaCPU), "stacks: %w", err)
		return nil
	}
	r.Problems = append(r.Problems, u.Problems...)
	return u
}

// cpuStack walks the CPU's stack from its saved registers into cs.Stack
// (innermost first, "? " before unreliable frames) and returns the reliable
// frames' function names. The timeline gets the reliable frames plus, on
// kdump dumps, the crash NMI handler rebuilt from the NMI stack
// (unwind.MethodHandler): that is what shows the CPU was stopped by the
// shootdown, since its saved registers are the interrupted context.
func cpuStack(u *unwind.Kernel, r *Report, i int, c vmcore.CPU, cs *CPUState) []string {
	if u == nil || c.Regs.SP == 0 {
		return nil
	}
	ct := u.UnwindCPU(i, c.Regs)
	var handler []string
	for _, f := range ct.Frames {
		cs.Stack = append(cs.Stack, f.String())
		if f.Reliable || f.Method == unwind.MethodHandler {
			cs.frames = append(cs.frames, f.Symbol())
		}
		if f.Method == unwind.MethodHandler {
			handler = append(handler, f.Function)
		}
	}
	if !ct.Complete() {
		kind := finding.Damaged
		if ct.End == unwind.EndDepth {
			kind = finding.Limit
		}
		r.problemf(kind, finding.About(finding.AreaCPU, strconv.Itoa(i)), "stack walk incomplete (%s): %s", ct.End, ct.Err)
	}
	if len(handler) > 0 {
		cs.RoleWhy = ct.Handler + " stack still holds " + strings.Join(handler, " <- ") + " (rebuilt from the stack)"
	}
	return ct.Functions(true)
}

// stackText is "a <- b <- c" for the innermost frames.
func stackText(stack []string) string {
	const show = 6
	if len(stack) > show {
		return strings.Join(stack[:show], " <- ") + " <- ..."
	}
	return strings.Join(stack, " <- ")
}

func containsAny(list, names []string) bool {
	for _, s := range list {
		if contains(names, s) {
			return true
		}
	}
	return false
}

// isArm64 reports whether the dump is of an arm64 kernel.
func isArm64(t *target.Target) bool {
	return t.Dump.Arch() != nil && t.Dump.Arch().ELFMachine() == elf.EM_AARCH64
}

// currentTask reads the per-CPU current task pointer: current_task before
// 6.2, pcpu_hot.current_task after (arch/x86/include/asm/current.h); on
// arm64 __entry_task, which entry_task_switch() sets on every context
// switch (arch/arm64/kernel/process.c).
func currentTask(k *kernel.Kernel, cpu int) (kernel.Object, error) {
	var addr uint64
	if a, err := k.Symbol("current_task"); err == nil {
		addr = a
	} else if a, err := k.Symbol("__entry_task"); err == nil {
		addr = a
	} else if a, err := k.Symbol("pcpu_hot"); err == nil {
		off, err := k.OffsetOf("struct pcpu_hot", "current_task")
		if err != nil {
			return kernel.Object{}, err
		}
		addr = a + off
	} else if a, err := k.Symbol("runqueues"); err == nil {
		// Any architecture: the runqueue's curr (kernel/sched/sched.h).
		off, err := k.OffsetOf("struct rq", "curr")
		if err != nil {
			return kernel.Object{}, err
		}
		addr = a + off
	} else {
		return kernel.Object{}, fmt.Errorf("no per-CPU current task: none of current_task (x86_64 < 6.2), pcpu_hot (x86_64 6.2+), __entry_task (arm64), runqueues is in the symbols: %w", kernel.ErrAbsent)
	}
	pa, err := k.PerCPU(addr, cpu)
	if err != nil {
		return kernel.Object{}, err
	}
	p, err := k.Object(pa, "unsigned long")
	if err != nil {
		return kernel.Object{}, err
	}
	taskAddr, err := p.Uint()
	if err != nil {
		return kernel.Object{}, err
	}
	return k.Object(taskAddr, "struct task_struct")
}

// funcName strips "+0xoff/0xsize [module]" from a %pS string.
func funcName(loc string) string {
	if i := strings.IndexByte(loc, '+'); i > 0 {
		return loc[:i]
	}
	return loc
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
