package analysis

import (
	"github.com/panicscope/panicscope/vmcore/analysis/timeline"
	"github.com/panicscope/panicscope/vmcore/finding"
)

// SchemaVersion is the version of the JSON report (docs/report-schema.md).
// Bump it when a field changes meaning or is removed; adding fields is fine.
const SchemaVersion = 2

// Report is everything panicscope knows about one crash. Every section is
// best-effort: what could not be read is listed in Problems (each naming
// its section in Subject.Area), the section holds what was read, and a
// fact not established is nil, never a default.
type Report struct {
	SchemaVersion int        `json:"schema_version"`
	Identity      Identity   `json:"identity"`
	Kernel        KernelInfo `json:"kernel"`
	Panic         PanicInfo  `json:"panic"`
	Parameters    Parameters `json:"parameters"`
	Chains        []Chain    `json:"chains"`
	Dumpers       []Dumper   `json:"dumpers"`
	// DumpersComplete is true when dump_list was walked to its end: the
	// list is every kmsg dumper, not the ones read before a fault.
	DumpersComplete bool            `json:"dumpers_complete"`
	Pstore          *Pstore         `json:"pstore"` // nil: no backend registered, or psinfo unreadable (see Problems)
	Consoles        []Console       `json:"consoles"`
	Log             *LogStats       `json:"log"` // nil when the kernel log could not be read
	CPUs            []CPUState      `json:"cpus"`
	Modules         []Module        `json:"modules"`
	Line            string          `json:"panic_model"`     // which panic() model was used, e.g. "6.1-stable"
	LineWhy         string          `json:"panic_model_why"` // how it was chosen
	Timeline        []timeline.Step `json:"timeline"`
	Plan            *PlanResult     `json:"plan,omitempty"` // what panic() would do as configured (live: now)
	Problems        finding.List    `json:"problems"`

	panicCPU *int64 // panic_cpu as read, before validation
}

// problemf records a problem about subject.
func (r *Report) problemf(kind finding.Kind, subject finding.Subject, format string, args ...any) {
	r.Problems.Addf(kind, subject, format, args...)
}

// fail records err as a problem about subject, classified by kindOf.
func (r *Report) fail(subject finding.Subject, err error) {
	r.Problems.Add(finding.New(kindOf(err), subject, err))
}

// KernelInfo names the kernel and where symbols and types came from.
type KernelInfo struct {
	Release      *string          `json:"release"`
	Version      *string          `json:"version"`
	SymbolSource string           `json:"symbol_source"`
	TypeSource   string           `json:"type_source"`
	Capture      timeline.Capture `json:"capture"` // CaptureUnknown: CaptureWhy says what was looked for
	CaptureWhy   string           `json:"capture_why"`
}

// PanicInfo is the panic itself. Nil fields could not be established; the
// report's problems say why.
type PanicInfo struct {
	Message *string `json:"message"` // printk.ParsePanicLine's message
	// MessageFrom says which log line Message was read from; "" when
	// there is no message.
	MessageFrom    MessageSource `json:"message_from,omitempty"`
	CPU            *int          `json:"cpu"`        // panic_cpu
	CPUSource      string        `json:"cpu_source"` // how CPU was found, or why it is nil
	TaskPID        *int          `json:"task_pid"`
	TaskComm       *string       `json:"task_comm"`
	Seq            *uint64       `json:"seq"`
	TimestampNS    *uint64       `json:"timestamp_ns"`
	Taint          *string       `json:"taint"`
	TaintMask      *uint64       `json:"taint_mask"`
	OopsInProgress *int          `json:"oops_in_progress"`
	FirstReport    string        `json:"first_report,omitempty"` // BUG:/Oops/WARNING line that led here
	// Trigger is what started the crash, before (or instead of) panic().
	Trigger Trigger `json:"trigger"`
}

// MessageSource is which of panic()'s lines the message was read from.
type MessageSource string

const (
	// FromMessageLine: the pr_emerg("Kernel panic - not syncing: ...") at
	// the start of panic().
	FromMessageLine MessageSource = "message"
	// FromEndLine: the closing "---[ end Kernel panic ..." line, when the
	// message line was lost.
	FromEndLine MessageSource = "end"
)

// Parameters are the panic-path knobs as they were in memory.
type Parameters struct {
	CrashKexecPostNotifiers *bool   `json:"crash_kexec_post_notifiers"`
	PanicTimeout            *int64  `json:"panic_timeout"`
	PanicPrint              *uint64 `json:"panic_print"`
	PanicOnOops             *int64  `json:"panic_on_oops"`
	PanicOnWarn             *int64  `json:"panic_on_warn"`
	CrashKernelLoaded       *bool   `json:"crash_kernel_loaded"`
}

// Chain is one notifier chain in call order.
type Chain struct {
	Name    string       `json:"name"`
	Address string       `json:"address"`
	Entries []ChainEntry `json:"entries"`
	// Complete is true when the walk reached the end of the list; false
	// when it stopped early (Broken says where and why).
	Complete bool   `json:"complete"`
	Broken   string `json:"broken,omitempty"`
}

// ChainEntry is one notifier_block.
type ChainEntry struct {
	Callback string `json:"callback"` // bare symbol name
	Module   string `json:"module"`   // "" for built-in
	Priority *int   `json:"priority"`
	Address  string `json:"address"`  // notifier_block address
	Location string `json:"location"` // "symbol+0xoff/0xsize [module]"
}

// Dumper is one kmsg_dumper on dump_list.
type Dumper struct {
	Callback   string `json:"callback"`
	Module     string `json:"module"`
	MaxReason  *int   `json:"max_reason"`
	ReasonName string `json:"max_reason_name"`
	Registered bool   `json:"registered"`
	Address    string `json:"address"`
}

// Pstore is the registered pstore backend and what its memory holds.
type Pstore struct {
	Backend *string        `json:"backend"`
	Flags   *uint64        `json:"flags"`
	BufSize *uint64        `json:"buf_size"`
	Records []PstoreRecord `json:"records"`
}

// PstoreRecord is one record found in a ramoops zone.
type PstoreRecord struct {
	Zone       int    `json:"zone"`
	Address    string `json:"address"`
	Kind       string `json:"kind"` // "dmesg", "console", "pmsg"
	Header     string `json:"header"`
	Compressed bool   `json:"compressed"`
	Title      string `json:"title"` // e.g. "Panic#2 Part1"
	Text       string `json:"text,omitempty"`
}

// Console is one registered console.
type Console struct {
	Name    *string `json:"name"`
	Index   *int    `json:"index"`
	Flags   *uint64 `json:"flags"`
	Enabled *bool   `json:"enabled"` // flags & CON_ENABLED
}

// LogStats describes the printk ring.
type LogStats struct {
	Source   string `json:"source"`
	Records  int    `json:"records"`
	FirstSeq uint64 `json:"first_seq"`
	NextSeq  uint64 `json:"next_seq"`
	Dropped  uint64 `json:"dropped"`
	Gaps     int    `json:"gaps"`
	Size     uint64 `json:"size"`
}

// CPUState is one CPU at dump time. Nil fields could not be read (a
// running CPU saves no registers; an unreadable task).
type CPUState struct {
	CPU      int       `json:"cpu"`
	Role     Role      `json:"role"`
	RoleWhy  string    `json:"role_why"`
	IP       *string   `json:"ip"`
	IPSymbol *string   `json:"ip_symbol"`
	SP       *string   `json:"sp"`
	TaskPID  *int      `json:"task_pid"`
	TaskComm *string   `json:"task_comm"`
	Task     *string   `json:"task"` // task_struct address
	Regs     Registers `json:"regs,omitempty"`
	Stack    []string  `json:"stack,omitempty"` // innermost first, "function+0xoff/0xsize [module]"; "? " = unreliable
	frames   []string  // timeline evidence: reliable frames and the rebuilt exception handler
}

// Module is one loaded module.
type Module struct {
	Name    string `json:"name"`
	Base    string `json:"base"`
	Size    uint64 `json:"size"`
	Symbols int    `json:"symbols"`
	Taints  string `json:"taints,omitempty"` // struct module.taints as letters ("O", "OE", "P")
}
