package analysis

import (
	"fmt"
	"strings"

	"github.com/panicscope/panicscope/vmcore"
	"github.com/panicscope/panicscope/vmcore/kernel"
	"github.com/panicscope/panicscope/vmcore/target"
)

// CPU roles.
const (
	RolePanicking = "panicking"
	RoleCrashNMI  = "stopped (crash NMI)"
	RoleStopped   = "stopped (stop IPI/NMI)"
	RoleIdle      = "idle"
	RoleRunning   = "running"
	RoleUnknown   = "unknown"
)

// stopFunctions are where a CPU halted by smp_send_stop() /
// crash_smp_send_stop() sits: stop_this_cpu() (arch/x86/kernel/process.c)
// reached from the REBOOT_VECTOR IPI or the stop NMI.
var stopFunctions = []string{"stop_this_cpu", "smp_stop_nmi_callback", "crash_nmi_callback", "nmi_shootdown_cpus"}

// idleFunctions are the idle loop's halting points.
var idleFunctions = []string{"default_idle", "native_safe_halt", "pv_native_safe_halt", "arch_cpu_idle", "do_idle", "cpu_idle_poll", "mwait_idle", "acpi_idle_do_entry", "intel_idle"}

// readCPUs describes each CPU from its saved registers and current task.
// The panicking CPU is panic_cpu in memory (kernel/panic.c): the dump
// headers' current_cpu fields are 0 whichever CPU panicked.
func readCPUs(t *target.Target, r *Report) {
	r.Panic.CPU = -1
	if r.panicCPU != nil && *r.panicCPU >= 0 {
		r.Panic.CPU = int(*r.panicCPU)
		r.Panic.CPUSource = "panic_cpu in memory"
	} else if r.panicCPU != nil {
		r.Panic.CPUSource = "panic_cpu is -1 (PANIC_CPU_INVALID): no panic() was entered"
	}
	for i, c := range t.Dump.CPUs {
		cs := CPUState{CPU: i, IP: hex(c.Regs.RIP), SP: hex(c.Regs.RSP), Role: RoleUnknown, TaskPID: -1}
		cs.IPSymbol, _, _ = describeCode(t, c.Regs.RIP)
		if t.Syms != nil {
			cs.IPSymbol = t.Syms.Format(c.Regs.RIP)
		}
		cs.Regs = regMap(c)
		if task, err := currentTask(t.Kernel, i); err == nil {
			cs.Task = hex(task.Addr)
			if pid, err := memberInt(task, "pid"); err == nil {
				cs.TaskPID = int(pid)
			}
			if comm, err := task.Member("comm"); err == nil {
				cs.TaskComm, _ = comm.CString(16)
			}
		} else {
			r.problem("cpu %d: current task: %v", i, err)
		}
		cs.Role, cs.RoleWhy = cpuRole(r, i, c, funcName(cs.IPSymbol))
		if t.Dump.Live() {
			// A running CPU saves no registers: only its current task is known.
			cs.IP, cs.SP, cs.IPSymbol, cs.Regs = "", "", "", nil
			cs.Role, cs.RoleWhy = RoleRunning, "live system: the current task is read from per-CPU memory; registers are not saved"
		}
		if i == r.Panic.CPU {
			r.Panic.TaskPID, r.Panic.TaskComm = cs.TaskPID, cs.TaskComm
		}
		r.CPUs = append(r.CPUs, cs)
	}
}

func cpuRole(r *Report, i int, c vmcore.CPU, fn string) (role, why string) {
	switch {
	case i == r.Panic.CPU:
		return RolePanicking, "panic_cpu = " + fmt.Sprint(i)
	case r.Kernel.Capture == CaptureKdump && c.HasStatus:
		// machine_crash_shutdown() -> nmi_shootdown_cpus(): each other CPU
		// saved its registers in crash_nmi_callback() -> crash_save_cpu(),
		// at the instruction the NMI interrupted.
		return RoleCrashNMI, "kdump capture: registers saved by crash_nmi_callback() when the crash NMI interrupted " + fn
	case contains(stopFunctions, fn):
		return RoleStopped, "instruction pointer in " + fn
	case contains(idleFunctions, fn):
		return RoleIdle, "instruction pointer in " + fn
	case fn != "":
		return RoleRunning, "instruction pointer in " + fn
	}
	return RoleUnknown, "no symbol for the instruction pointer"
}

// currentTask reads the per-CPU current task pointer: current_task before
// 6.2, pcpu_hot.current_task after (arch/x86/include/asm/current.h).
func currentTask(k *kernel.Kernel, cpu int) (kernel.Object, error) {
	var addr uint64
	if a, err := k.Symbol("current_task"); err == nil {
		addr = a
	} else if a, err := k.Symbol("pcpu_hot"); err == nil {
		off, err := k.OffsetOf("struct pcpu_hot", "current_task")
		if err != nil {
			return kernel.Object{}, err
		}
		addr = a + off
	} else {
		return kernel.Object{}, err
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

func regMap(c vmcore.CPU) map[string]string {
	names := []string{"r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8", "rax", "rcx", "rdx", "rsi", "rdi", "orig_rax", "rip", "cs", "eflags", "rsp", "ss", "fs_base", "gs_base", "ds", "es", "fs", "gs"}
	vals := c.Regs.Array()
	m := make(map[string]string, len(names)+2)
	for i, n := range names {
		if i < len(vals) {
			m[n] = fmt.Sprintf("%016x", vals[i])
		}
	}
	if c.HasQEMU {
		m["cr3"] = fmt.Sprintf("%016x", c.CR3)
		m["cr4"] = fmt.Sprintf("%016x", c.CR4)
	}
	return m
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
