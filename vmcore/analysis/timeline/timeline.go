// Package timeline models the order in which the kernel's panic() runs, for
// each kernel line panicscope supports, and joins that model with evidence the
// caller gathered from a dump: log records, parameters, CPU state and how the
// dump was captured. Build is a pure, deterministic function of its Inputs: it
// reads no memory. Each step cites the kernel code it models (see lines.go).
package timeline

import "fmt"

// Status of a step or of a member (notifier callback, kmsg dumper).
type Status string

// Statuses. Running means the panicking CPU was inside the step when the dump
// was taken (kdump inside __crash_kexec, the final loop after the end line, …).
const (
	Ran        Status = "ran"
	Running    Status = "running"
	Skipped    Status = "skipped"
	NotReached Status = "not_reached"
	Unknown    Status = "unknown"
)

// StepName names a stage of panic(): the fixed JSON vocabulary.
type StepName string

// Step names.
const (
	StepMessage      StepName = "message"
	StepStopCPUs     StepName = "stop_cpus"
	StepCrashKexec   StepName = "crash_kexec"
	StepNotifiers    StepName = "notifiers"
	StepKmsgDump     StepName = "kmsg_dump"
	StepConsoleFlush StepName = "console_flush"
	StepPanicPrint   StepName = "panic_print"
	StepRestart      StepName = "restart"
	StepEnd          StepName = "end"
)

// Slots tell apart the two places a step name can appear in one panic().
const (
	SlotBeforeNotifiers = "before_notifiers" // crash_kexec when !crash_kexec_post_notifiers
	SlotAfterKmsgDump   = "after_kmsg_dump"  // crash_kexec when crash_kexec_post_notifiers
	SlotSysInfo         = "sys_info"         // panic_print: panic_print_sys_info(false) / sys_info()
	SlotConsoleReplay   = "console_replay"   // panic_print: console_flush_on_panic(CONSOLE_REPLAY_ALL)
)

// EvidenceKind says where a piece of evidence comes from.
type EvidenceKind string

// Evidence kinds.
const (
	EvLog     EvidenceKind = "log"
	EvParam   EvidenceKind = "param"
	EvCPU     EvidenceKind = "cpu"
	EvMemory  EvidenceKind = "memory"
	EvCapture EvidenceKind = "capture"
)

// Capture is how the dump was taken.
type Capture string

// Captures.
const (
	CaptureKdump      Capture = "kdump"      // taken by a crash kernel: __crash_kexec ran and the dump was taken inside it
	CaptureHypervisor Capture = "hypervisor" // e.g. QEMU dump-guest-memory, after the fact
	CaptureLive       Capture = "live"       // a running system
	// CaptureUnknown: nothing in the dump says how it was taken (the
	// caller says why); Build treats it like the zero value.
	CaptureUnknown Capture = "unknown"
)

// KMSG_DUMP_* values (include/linux/kmsg_dump.h, identical in 5.10, 6.1, 6.12).
const (
	KmsgDumpUndef    = 0
	KmsgDumpPanic    = 1
	KmsgDumpOops     = 2
	KmsgDumpEmerg    = 3
	KmsgDumpShutdown = 4
)

// Evidence is one fact supporting a status.
type Evidence struct {
	Kind        EvidenceKind `json:"kind"`
	Text        string       `json:"text"`
	Seq         *uint64      `json:"seq,omitempty"`
	TimestampNS *uint64      `json:"timestamp_ns,omitempty"`
}

// Member is a panic notifier callback or a kmsg dumper. The caller fills Name,
// Module, Priority, MaxReason and may attach its own Evidence (kept as given,
// not interpreted); Build fills Status and Reason and appends log evidence.
type Member struct {
	Name     string `json:"name"` // callback symbol
	Module   string `json:"module,omitempty"`
	Priority *int   `json:"priority,omitempty"`
	// MaxReason is the kmsg dumper's max_reason (KMSG_DUMP_*); dumpers only.
	// 0 (KMSG_DUMP_UNDEF) means the kernel's default, KMSG_DUMP_OOPS; nil
	// means unknown (or not a dumper).
	MaxReason *int       `json:"max_reason,omitempty"`
	Status    Status     `json:"status"`
	Reason    string     `json:"reason,omitempty"`
	Evidence  []Evidence `json:"evidence,omitempty"`
}

// Step is one stage of panic(), in the order it ran or would have run.
type Step struct {
	Step     StepName   `json:"step"`
	Slot     string     `json:"slot,omitempty"`
	Status   Status     `json:"status"`
	Reason   string     `json:"reason,omitempty"`
	Function string     `json:"function"` // kernel function modelled, e.g. "__crash_kexec"
	Source   string     `json:"source"`   // file, function and statement modelled
	Note     string     `json:"note,omitempty"`
	Evidence []Evidence `json:"evidence,omitempty"`
	Members  []Member   `json:"members,omitempty"`
	// Condition is the step's own test on the inputs (crash kernel loaded,
	// crash_kexec_post_notifiers, panic_print bits, panic_timeout), whether
	// or not panic() got there: what the plan of a live system is made of.
	Condition Condition `json:"-"`
	// EmptyList: the step calls a list (notifiers, kmsg dumpers) that was
	// read and is empty, so "it ran" called nothing.
	EmptyList bool `json:"empty_list,omitempty"`
}

// CondState is whether a step does its work when reached.
type CondState string

// Condition states.
const (
	CondActive   CondState = "active"   // the step does its work when reached
	CondInactive CondState = "inactive" // reached or not, it does nothing (Why says why)
	CondUnknown  CondState = "unknown"  // it depends on an input that is unknown
)

// Condition is a step's own test on the inputs.
type Condition struct {
	State CondState
	Why   string
}

// LogLine is one kernel log record (text without the timestamp prefix).
type LogLine struct {
	Seq         uint64
	TimestampNS uint64
	Text        string
}

// CPUEvidence is what the dump says about one CPU: the symbol of its
// instruction pointer and its stack, innermost frame first.
type CPUEvidence struct {
	CPU       int
	Panicking bool
	IPSymbol  string
	Frames    []string
}

// Inputs are the facts the caller read from the dump. Pointers are nil when
// the fact is unknown; Build never guesses them.
type Inputs struct {
	Release           string            // "6.1.0-56-amd64", "5.10.0-32-amd64", "6.12.117+deb13-amd64"
	Arch              string            // uname -m: "x86_64", "aarch64"; "" = x86_64 (how the other CPUs are stopped)
	Line              string            // the kernel line's model to use; "" = choose it with Line(Release, HasSymbol)
	HasSymbol         func(string) bool // symbol (or DWARF function) lookup; nil = unknown
	PostNotifiers     *bool             // crash_kexec_post_notifiers
	CrashKernelLoaded *bool             // kexec_crash_image != NULL
	PanicTimeout      *int              // panic_timeout
	PanicPrint        *uint64           // panic_print (6.19: also panic_sys_info)
	// PanicConsoleReplay is the 6.19 panic_console_replay parameter.
	PanicConsoleReplay *bool
	// KernelSIMask is lib/sys_info.c kernel_si_mask where it exists (sys_info(0)
	// falls back to it).
	KernelSIMask *uint64
	Capture      Capture // "" or CaptureUnknown = unknown
	PanicMessage string
	PanicSeq     *uint64
	Log          []LogLine // records from the panic message on, in order
	// Notifiers is panic_notifier_list in call order; nil = not read, empty =
	// empty list. Dumpers is dump_list in list (= call) order, same convention.
	Notifiers []Member
	Dumpers   []Member
	// NotifiersPartial and DumpersPartial say the list walk stopped early:
	// the members given are the first ones, not all.
	NotifiersPartial, DumpersPartial bool
	CPUs                             []CPUEvidence
	// Oops is the last oops report of a log with no panic message, nil
	// when there is none; LogWhole says every record from it to the end of
	// the ring was read (so a line panic() printed would be there).
	Oops     *LogLine
	LogWhole bool
	Extra    map[string]string // free-form facts; not used by the model
}

func onOff(b bool) string {
	if b {
		return "Y"
	}
	return "N"
}

func u64(v uint64) *uint64 { return &v }

func hex(v uint64) string { return fmt.Sprintf("%#x", v) }
