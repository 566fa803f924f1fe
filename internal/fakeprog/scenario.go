package fakeprog

// Scenario is a typical kdump capture of a 6.1 kernel that panicked: what
// the real fixture kdump-6.1-lzo shows, built in Go. Tests change it (add,
// drop or break objects) before WriteFile.
type Scenario struct {
	*Kernel
	Funcs     map[string]uint64 // vmlinux functions by name
	Mod       *Module           // the "labfake" module
	PanicTask uint64            // the panicking CPU's current task
	IdleTask  uint64
	Sleeper   uint64   // a task switched out in __schedule()
	Thread    uint64   // a thread of Sleeper's group
	Blocks    []uint64 // panic_notifier_list's notifier_blocks, in chain order
	Dumpers   []uint64
	RamoopsAt uint64 // physical address of the ramoops region
}

// The panic message the scenario's log ends with.
const (
	PanicMessage = "fakeprog: deliberate panic"
	PanicLine    = "Kernel panic - not syncing: " + PanicMessage
	// PanicCPU is the panicking CPU (panic_cpu).
	PanicCPU = 1
	// IntMax is INT_MAX, the priority several panic notifiers use.
	IntMax = 1<<31 - 1
)

// Option changes what NewScenario builds before it lays anything out.
type Option func(*scenarioOpts)

type scenarioOpts struct {
	noParams, noDumpers, noPstore, noChains bool
}

// WithoutParams leaves the panic parameters out of the kernel.
func WithoutParams() Option { return func(o *scenarioOpts) { o.noParams = true } }

// WithoutDumpers leaves dump_list out.
func WithoutDumpers() Option { return func(o *scenarioOpts) { o.noDumpers = true } }

// WithoutPstore leaves psinfo and oops_cxt out.
func WithoutPstore() Option { return func(o *scenarioOpts) { o.noPstore = true } }

// WithoutChains leaves every notifier chain out.
func WithoutChains() Option { return func(o *scenarioOpts) { o.noChains = true } }

// NewScenario builds the panicked kernel: two CPUs (CPU 1 panicking in
// __crash_kexec() called from panic(), CPU 0 idle), a panic notifier chain
// with a module's notifiers at INT_MAX and a built-in one, a module kmsg
// dumper, ramoops with one dmesg record, a serial console, the panic
// parameters (crash_kexec_post_notifiers=N, a crash kernel loaded) and a
// log ending in the panic message.
func NewScenario(opts ...Option) *Scenario {
	var o scenarioOpts
	for _, f := range opts {
		f(&o)
	}
	k := New("6.1.0-fake-amd64", 2)
	k.CrashTime = 1_700_000_000
	s := &Scenario{Kernel: k, Funcs: map[string]uint64{}}
	for _, n := range []string{
		"ret_from_fork", "kthread", "fake_do_panic", "panic", "__crash_kexec", "crash_kexec",
		"start_secondary", "cpu_startup_entry", "do_idle", "default_idle",
		"stop_this_cpu", "atomic_notifier_call_chain", "kmsg_dump", "console_flush_on_panic",
		"fake_panic_notify", "fake_reboot_notify", "emergency_restart",
		"asm_exc_nmi", "exc_nmi", "default_do_nmi", "nmi_handle", "crash_nmi_callback",
		"__schedule", "schedule", "worker_thread",
	} {
		s.Funcs[n] = k.Func(n)
	}
	k.EndOfStack(s.Funcs["ret_from_fork"])
	k.EndOfStack(s.Funcs["start_secondary"])
	k.EntryORC(s.Funcs["asm_exc_nmi"])
	s.Mod = k.AddModule("labfake", 1<<12, "labfake_notify_first", "labfake_notify_last", "labfake_kmsg_dump", "labfake_do_panic") // 'O'

	if !o.noChains {
		_, s.Blocks = k.NotifierChain("panic_notifier_list", "atomic_notifier_head",
			Notifier{s.Mod.Func("labfake_notify_first"), IntMax},
			Notifier{s.Funcs["fake_panic_notify"], 0},
			Notifier{s.Mod.Func("labfake_notify_last"), -1},
		)
		k.NotifierChain("die_chain", "atomic_notifier_head")
		k.NotifierChain("reboot_notifier_list", "blocking_notifier_head", Notifier{s.Funcs["fake_reboot_notify"], 0})
		k.NotifierChain("restart_handler_list", "atomic_notifier_head")
	}
	if !o.noDumpers {
		s.Dumpers = k.KmsgDumpers(Dumper{Callback: s.Mod.Func("labfake_kmsg_dump"), MaxReason: 2, Registered: true})
	}
	if !o.noPstore {
		s.RamoopsAt = k.Ramoops(0x1000, "====1700000000.000000-D\nPanic#1 Part1\n<0>[    4.1] "+PanicLine+"\n", "")
	}
	k.Consoles(Console{Name: "ttyS", Index: 0, Flags: 4 | 16}) // CON_ENABLED|CON_CONSDEV
	if !o.noParams {
		k.SetPanicParams(PanicParams{
			CrashKexecPostNotifiers: Ptr(false),
			PanicTimeout:            Ptr(0),
			PanicPrint:              Ptr[uint64](0),
			PanicOnOops:             Ptr(1),
			PanicOnWarn:             Ptr(0),
			CrashKernelLoaded:       Ptr(true),
			PanicCPU:                Ptr(PanicCPU),
			OopsInProgress:          Ptr(0),
			TaintedMask:             Ptr[uint64](1 << 12),
		})
	}

	// Tasks: init_task, the idle task of CPU 0, the panicking shell and a
	// sleeping kworker with a thread.
	k.InitTask()
	s.IdleTask = k.Task(0, "swapper/0")
	s.PanicTask = k.Task(121, "sh")
	k.AddTask(s.PanicTask)
	s.Sleeper = k.Task(40, "kworker/0:1")
	k.AddTask(s.Sleeper)
	k.SwitchedOut(s.Sleeper, s.Funcs["__schedule"], s.Funcs["schedule"], s.Funcs["worker_thread"], s.Funcs["kthread"], s.Funcs["ret_from_fork"])
	s.Thread = k.Task(41, "kworker/0:1")
	k.AddThread(s.Sleeper, s.Thread)

	// CPU 0 was idle when the crash NMI stopped it: its saved registers are
	// the interrupted idle loop, and its NMI stack holds the handler.
	k.CPUStacks()
	idle := k.CallStack(s.IdleTask,
		s.Funcs["default_idle"], s.Funcs["do_idle"], s.Funcs["cpu_startup_entry"], s.Funcs["start_secondary"])
	k.SetCPU(0, s.IdleTask, 0, idle)
	k.NMIStack(0, idle, s.Funcs["crash_nmi_callback"], s.Funcs["nmi_handle"], s.Funcs["default_do_nmi"], s.Funcs["exc_nmi"], s.Funcs["asm_exc_nmi"])
	// CPU 1 panicked from the module and is in __crash_kexec().
	k.SetCPU(1, s.PanicTask, 121, k.CallStack(s.PanicTask,
		s.Funcs["__crash_kexec"], s.Funcs["panic"], s.Mod.Func("labfake_do_panic"), s.Funcs["kthread"], s.Funcs["ret_from_fork"]))

	k.Printk(
		LogRecord{Text: "Linux version 6.1.0-fake-amd64 (fakeprog)", Level: 5},
		LogRecord{Text: "Command line: console=ttyS0 crashkernel=256M", Level: 6},
		LogRecord{Text: "fakeprog: about to panic", Level: 4},
		LogRecord{Text: PanicLine, Level: 0},
		LogRecord{Text: "Kernel Offset: disabled", Level: 0},
	)
	return s
}
