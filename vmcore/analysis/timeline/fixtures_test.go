package timeline

// Inputs modelled on the fixtures in ../shared/vmcores (console.log and
// meta.json copied as literals; the tests do not read that folder).

func bp(v bool) *bool     { return &v }
func ip(v int) *int       { return &v }
func up(v uint64) *uint64 { return &v }
func has(syms ...string) func(string) bool {
	return func(s string) bool {
		for _, x := range syms {
			if x == s {
				return true
			}
		}
		return false
	}
}

const (
	lpMsg    = "labpanic: deliberate panic from labpanic_do_panic (trigger=panic)"
	sysrqMsg = "sysrq triggered crash"
	intMax   = 2147483647
)

func m(name, module string, prio int) Member {
	return Member{Name: name, Module: module, Priority: ip(prio)}
}

// labpanicNotifiers is panic_notifier_list of the 6.1 labpanic fixtures.
func labpanicNotifiers() []Member {
	return []Member{
		m("pvpanic_panic_notify", "pvpanic", intMax),
		m("labpanic_notify_first", "labpanic", intMax),
		m("trace_panic_handler", "", 150),
		m("labpanic_notify_loud", "labpanic", 10),
		m("rcu_panic", "", 0),
		m("hung_task_panic", "", 0),
		m("dump_kernel_offset", "", 0),
		m("led_trigger_panic_notifier", "", 0),
		m("labpanic_notify_silent", "labpanic", -10),
	}
}

func labpanicDumpers() []Member {
	return []Member{{Name: "labpanic_kmsg_dump", Module: "labpanic", MaxReason: ip(KmsgDumpPanic)}}
}

// sysrqNotifiers61 is panic_notifier_list of qemu-6.1-sysrq.
func sysrqNotifiers61() []Member {
	return []Member{
		m("pvpanic_panic_notify", "pvpanic", intMax),
		m("trace_panic_handler", "", 150),
		m("rcu_panic", "", 0),
		m("hung_task_panic", "", 0),
		m("dump_kernel_offset", "", 0),
		m("led_trigger_panic_notifier", "", 0),
	}
}

// sysrqNotifiers510 is panic_notifier_list of qemu-5.10-sysrq.
func sysrqNotifiers510() []Member {
	return []Member{
		m("trace_panic_handler", "", 150),
		m("pvpanic_panic_notify", "pvpanic", 1),
		m("rcu_panic", "", 0),
		m("hung_task_panic", "", 0),
		m("dump_kernel_offset", "", 0),
		m("led_trigger_panic_notifier", "", 0),
	}
}

// sysrqNotifiers612 is panic_notifier_list of qemu-6.12-sysrq.
func sysrqNotifiers612() []Member {
	return []Member{
		m("pvpanic_panic_notify", "pvpanic", intMax),
		m("trace_die_panic_handler", "", intMax-1),
		m("rcu_panic", "", 0),
		m("hung_task_panic", "", 0),
		m("dump_kernel_offset", "", 0),
		m("led_trigger_panic_notifier", "", 0),
	}
}

// kdumpLzo is kdump-6.1-lzo: kdump without crash_kexec_post_notifiers.
func kdumpLzo() Inputs {
	return Inputs{
		Release: "6.1.0-56-amd64", PostNotifiers: bp(false), CrashKernelLoaded: bp(true),
		PanicTimeout: ip(0), PanicPrint: up(0), Capture: CaptureKdump,
		PanicMessage: lpMsg, PanicSeq: up(395),
		Log: []LogLine{
			{395, 4121886000, "Kernel panic - not syncing: " + lpMsg},
			{396, 4122171000, "CPU: 1 PID: 121 Comm: sh Kdump: loaded Tainted: G           OE      6.1.0-56-amd64 #1  Debian 6.1.192-2"},
			{399, 4123193000, " dump_stack_lvl+0x44/0x5c"},
			{400, 4123452000, " panic+0x118/0x2f4"},
			{430, 4124367000, " </TASK>"},
		},
		Notifiers: labpanicNotifiers(),
		Dumpers:   labpanicDumpers(),
		CPUs: []CPUEvidence{
			{CPU: 1, Panicking: true, IPSymbol: "machine_kexec", Frames: []string{
				"machine_kexec", "__crash_kexec", "panic", "labpanic_trigger.cold", "labpanic_write", "proc_reg_write", "vfs_write"}},
			{CPU: 0, IPSymbol: "native_halt", Frames: []string{"native_halt", "crash_nmi_callback", "nmi_handle", "default_do_nmi", "exc_nmi"}},
		},
	}
}

// kdumpPost is kdump-6.1-zlib-postnotifiers.
func kdumpPost() Inputs {
	ts := uint64(4004795000)
	return Inputs{
		Release: "6.1.0-56-amd64", PostNotifiers: bp(true), CrashKernelLoaded: bp(true),
		PanicTimeout: ip(0), PanicPrint: up(0), Capture: CaptureKdump,
		PanicMessage: lpMsg, PanicSeq: up(390),
		Log: []LogLine{
			{390, 4004411000, "Kernel panic - not syncing: " + lpMsg},
			{391, ts, "CPU: 1 PID: 121 Comm: sh Kdump: loaded Tainted: G           OE      6.1.0-56-amd64 #1  Debian 6.1.192-2"},
			{417, ts, " </TASK>"},
			{418, ts, "labpanic: notifier prio=INT_MAX ran first"},
			{419, ts, "labpanic: notifier prio=10 saw panic: " + lpMsg},
			{420, ts, "Kernel Offset: 0x29200000 from 0xffffffff81000000 (relocation range: 0xffffffff80000000-0xffffffffbfffffff)"},
			{421, ts, "labpanic: kmsg_dump callback reason=Panic"},
		},
		Notifiers: labpanicNotifiers(),
		Dumpers:   labpanicDumpers(),
		CPUs: []CPUEvidence{
			{CPU: 1, Panicking: true, IPSymbol: "machine_kexec", Frames: []string{
				"machine_kexec", "__crash_kexec", "panic", "labpanic_trigger.cold", "labpanic_write"}},
			{CPU: 0, IPSymbol: "native_halt", Frames: []string{"native_halt", "crash_nmi_callback", "nmi_handle"}},
		},
	}
}

// qemuLpPanic is qemu-6.1-lp-panic: no kdump, notifiers and dumpers ran, the
// dump was taken after the panic finished.
func qemuLpPanic() Inputs {
	ts := uint64(2814663000)
	return Inputs{
		Release: "6.1.0-56-amd64", PostNotifiers: bp(false), CrashKernelLoaded: bp(false),
		PanicTimeout: ip(0), PanicPrint: up(0), Capture: CaptureHypervisor,
		PanicMessage: lpMsg, PanicSeq: up(383),
		Log: []LogLine{
			{383, 2813365000, "Kernel panic - not syncing: " + lpMsg},
			{384, 2813667000, "CPU: 0 PID: 113 Comm: sh Tainted: G           OE      6.1.0-56-amd64 #1  Debian 6.1.192-2"},
			{415, ts, " </TASK>"},
			{416, ts, "labpanic: notifier prio=INT_MAX ran first"},
			{417, ts, "labpanic: notifier prio=10 saw panic: " + lpMsg},
			{418, ts, "Kernel Offset: 0x32c00000 from 0xffffffff81000000 (relocation range: 0xffffffff80000000-0xffffffffbfffffff)"},
			{419, ts, "labpanic: kmsg_dump callback reason=Panic"},
			{420, ts, "---[ end Kernel panic - not syncing: " + lpMsg + " ]---"},
		},
		Notifiers: labpanicNotifiers(),
		Dumpers:   labpanicDumpers(),
		CPUs: []CPUEvidence{
			{CPU: 0, Panicking: true, IPSymbol: "panic", Frames: []string{"panic", "labpanic_trigger.cold", "labpanic_write", "proc_reg_write"}},
			{CPU: 1, IPSymbol: "native_halt", Frames: []string{"native_halt", "stop_this_cpu", "__sysvec_reboot", "sysvec_reboot"}},
		},
	}
}

// qemuSysrq61 is qemu-6.1-sysrq.
func qemuSysrq61() Inputs {
	return Inputs{
		Release: "6.1.0-56-amd64", PostNotifiers: bp(false), CrashKernelLoaded: bp(false),
		PanicTimeout: ip(0), PanicPrint: up(0), Capture: CaptureHypervisor,
		PanicMessage: sysrqMsg, PanicSeq: up(382),
		Log: []LogLine{
			{382, 2861322000, "Kernel panic - not syncing: " + sysrqMsg},
			{383, 2861474000, "CPU: 1 PID: 117 Comm: sh Not tainted 6.1.0-56-amd64 #1  Debian 6.1.192-2"},
			{420, 2861980000, " </TASK>"},
			{421, 2861980000, "Kernel Offset: 0x25800000 from 0xffffffff81000000 (relocation range: 0xffffffff80000000-0xffffffffbfffffff)"},
			{422, 2861980000, "---[ end Kernel panic - not syncing: " + sysrqMsg + " ]---"},
		},
		Notifiers: sysrqNotifiers61(),
		Dumpers:   []Member{},
		CPUs: []CPUEvidence{
			{CPU: 1, Panicking: true, IPSymbol: "panic", Frames: []string{"panic", "sysrq_handle_crash", "__handle_sysrq.cold", "write_sysrq_trigger"}},
		},
	}
}

// qemuSysrq510 is qemu-5.10-sysrq.
func qemuSysrq510() Inputs {
	return Inputs{
		Release: "5.10.0-32-amd64", PostNotifiers: bp(false), CrashKernelLoaded: bp(false),
		PanicTimeout: ip(0), PanicPrint: up(0), Capture: CaptureHypervisor,
		PanicMessage: sysrqMsg, PanicSeq: up(384),
		Log: []LogLine{
			{384, 2814722000, "Kernel panic - not syncing: " + sysrqMsg},
			{385, 2814987000, "CPU: 1 PID: 103 Comm: sh Tainted: G            E     5.10.0-32-amd64 #1 Debian 5.10.223-1"},
			{388, 2816074000, " dump_stack+0x6b/0x83"},
			{407, 2816572000, "Kernel Offset: 0x8e00000 from 0xffffffff81000000 (relocation range: 0xffffffff80000000-0xffffffffbfffffff)"},
			{408, 2816572000, "---[ end Kernel panic - not syncing: " + sysrqMsg + " ]---"},
		},
		Notifiers: sysrqNotifiers510(),
		Dumpers:   []Member{},
		CPUs: []CPUEvidence{
			{CPU: 1, Panicking: true, IPSymbol: "panic", Frames: []string{"panic", "sysrq_handle_crash", "__handle_sysrq.cold", "write_sysrq_trigger"}},
		},
	}
}

// qemuSysrq612 is qemu-6.12-sysrq.
func qemuSysrq612() Inputs {
	return Inputs{
		Release: "6.12.117+deb13-amd64", PostNotifiers: bp(false), CrashKernelLoaded: bp(false),
		PanicTimeout: ip(0), PanicPrint: up(0), Capture: CaptureHypervisor,
		PanicMessage: sysrqMsg, PanicSeq: up(391),
		Log: []LogLine{
			{391, 3083098000, "Kernel panic - not syncing: " + sysrqMsg},
			{392, 3083612000, "CPU: 1 UID: 0 PID: 168 Comm: sh Not tainted 6.12.117+deb13-amd64 #1  Debian 6.12.117-1"},
			{422, 3085729000, " </TASK>"},
			{423, 3087922000, "Kernel Offset: 0x29000000 from 0xffffffff81000000 (relocation range: 0xffffffff80000000-0xffffffffbfffffff)"},
			{424, 3088224000, "---[ end Kernel panic - not syncing: " + sysrqMsg + " ]---"},
		},
		Notifiers: sysrqNotifiers612(),
		Dumpers:   []Member{},
		CPUs: []CPUEvidence{
			{CPU: 1, Panicking: true, IPSymbol: "panic", Frames: []string{"panic", "sysrq_handle_crash", "__handle_sysrq"}},
		},
	}
}

// qemuOops is qemu-6.1-lp-oops-pstore: oops + panic_on_oops, ramoops/pstore.
func qemuOops() Inputs {
	ts := uint64(2898072000)
	return Inputs{
		Release: "6.1.0-56-amd64", PostNotifiers: bp(false), CrashKernelLoaded: bp(false),
		PanicTimeout: ip(0), PanicPrint: up(0), Capture: CaptureHypervisor,
		PanicMessage: "Fatal exception", PanicSeq: up(458),
		Log: []LogLine{
			{445, ts, "---[ end trace 0000000000000000 ]---"},
			{446, ts, "RIP: 0010:labpanic_do_oops+0x18/0x23 [labpanic]"},
			{458, ts, "Kernel panic - not syncing: Fatal exception"},
			{459, ts, "labpanic: notifier prio=INT_MAX ran first"},
			{460, ts, "labpanic: notifier prio=10 saw panic: Fatal exception"},
			{461, ts, "Kernel Offset: 0x33200000 from 0xffffffff81000000 (relocation range: 0xffffffff80000000-0xffffffffbfffffff)"},
			{462, ts, "labpanic: kmsg_dump callback reason=Panic"},
			{463, ts, "---[ end Kernel panic - not syncing: Fatal exception ]---"},
		},
		Notifiers: labpanicNotifiers(),
		Dumpers: []Member{
			{Name: "labpanic_kmsg_dump", Module: "labpanic", MaxReason: ip(KmsgDumpPanic)},
			{Name: "pstore_dump", MaxReason: ip(KmsgDumpOops), Evidence: []Evidence{
				{Kind: EvMemory, Text: "ramoops zone 1 @0x7010000: Panic#2 Part1"}}},
		},
		CPUs: []CPUEvidence{
			{CPU: 1, Panicking: true, IPSymbol: "panic", Frames: []string{"panic", "oops_end.cold", "page_fault_oops", "exc_page_fault"}},
		},
	}
}

// asLine re-targets fixture inputs to another kernel line (the panic path
// inputs stay; only the release and the symbols change).
func asLine(in Inputs, line string) Inputs {
	switch line {
	case Line510:
		in.Release = "5.10.0-32-amd64"
		in.HasSymbol = has("printk_safe_flush_on_panic", "crash_smp_send_stop")
	case Line61:
		in.Release = "6.1.0-6-amd64" // Debian 6.1.15-1: before the backport
		in.HasSymbol = has("crash_smp_send_stop")
	case Line61Stable:
		in.Release = "6.1.0-56-amd64"
		in.HasSymbol = has("crash_smp_send_stop")
	case Line612:
		in.Release = "6.12.117+deb13-amd64"
		in.HasSymbol = has("kmsg_dump_desc", "printk_legacy_allow_panic_sync", "nbcon_atomic_flush_unsafe")
	case Line619:
		in.Release = "6.19.0-1-amd64"
		in.HasSymbol = has("vpanic", "sys_info", "kmsg_dump_desc")
		in.PanicConsoleReplay = bp(false)
		for i := range in.CPUs {
			for j, f := range in.CPUs[i].Frames {
				if f == "panic" {
					in.CPUs[i].Frames = append(append(append([]string(nil), in.CPUs[i].Frames[:j]...), "vpanic"), in.CPUs[i].Frames[j:]...)
					break
				}
			}
			if in.CPUs[i].IPSymbol == "panic" {
				in.CPUs[i].IPSymbol = "vpanic"
			}
		}
	}
	return in
}
