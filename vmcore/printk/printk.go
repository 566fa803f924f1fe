// Package printk reads the kernel log from a dump without debuginfo, using
// only VMCOREINFO: the lockless printk_ringbuffer of Linux >= 5.10
// (kernel/printk/printk_ringbuffer.c) through SYMBOL(prb) and its OFFSET/SIZE
// lines, and the legacy log_buf of Linux 3.5..5.9 (kernel/printk/printk.c)
// through SYMBOL(log_buf) and the printk_log lines.
//
// Records that cannot be read (a page filtered out of the dump, a descriptor
// caught mid-write, a corrupt block) become Gaps; they never fail the read.
package printk

import (
	"errors"
	"fmt"
	"strings"

	"github.com/panicscope/panicscope/vmcore/vmcoreinfo"
	"github.com/panicscope/panicscope/vmcore/vmem"
)

// Record flags (enum printk_info_flags in include/linux/printk.h for the
// ringbuffer, enum log_flags in kernel/printk/printk.c before 5.10).
const (
	LogNoCons  = 1 // LOG_NOCONS (legacy only): suppressed from the console
	LogNewline = 2 // LOG_NEWLINE: the text ended with a newline
	LogPrefix  = 4 // LOG_PREFIX (legacy only): force a prefix
	LogCont    = 8 // LOG_CONT: a fragment of a continued line
)

// Sources reported in Log.Source.
const (
	SourceRingbuffer = "printk_ringbuffer (VMCOREINFO offsets)"
	SourceLegacy     = "log_buf (legacy)"
)

// ErrNoLog means VMCOREINFO names neither prb nor log_buf.
var ErrNoLog = errors.New("printk: VMCOREINFO has neither SYMBOL(prb) nor SYMBOL(log_buf)")

// Record is one printk record.
type Record struct {
	Seq         uint64
	TimestampNS uint64
	Level       int
	Facility    int
	Flags       uint8 // LogNewline, LogCont, ...
	Cont        bool  // Flags&LogCont != 0
	// CallerID is printk_info.caller_id: a task id, or a CPU number with
	// bit 31 set. Caller is it as the kernel prints it with
	// CONFIG_PRINTK_CALLER ("T123" or "C1"); empty when the dump has no
	// caller id (legacy log_buf without CONFIG_PRINTK_CALLER).
	CallerID uint32
	Caller   string
	// Subsystem and Device come from dev_printk_info (ringbuffer) or the
	// SUBSYSTEM=/DEVICE= dictionary (legacy), set by dev_printk().
	Subsystem, Device string
	// Text is the message without its trailing newline; it may contain
	// '\n' (one record printed as several lines).
	Text string
}

// Gap is a run of records that exist in the log but could not be read.
type Gap struct {
	FirstSeq, LastSeq uint64
	Reason            string
	Addr              uint64 // the address that faulted or was bad, 0 if none
}

// Log is the kernel log as found in the dump.
type Log struct {
	Records []Record // oldest first, ascending Seq
	Gaps    []Gap    // ascending FirstSeq
	// Dropped counts the records lost to wrapping: the sequence numbers
	// below the oldest record still in the ring, less those the user
	// cleared (below clear_seq, "dmesg -C").
	Dropped uint64
	// FirstSeq is the first readable record's Seq (NextSeq when there is
	// none); NextSeq is the Seq the next printk would have got.
	FirstSeq, NextSeq uint64
	ClearSeq          uint64 // clear_seq, when VMCOREINFO has it
	Size              uint64 // bytes in the text data ring / log_buf
	DescCount         uint64 // descriptors in the ring; 0 for log_buf
	Fail              uint64 // printk_ringbuffer.fail: reservations that failed outright
	Source            string
	// Numbering is how the ring numbers its descriptors and how that was
	// recognized (ringbuffer only; see idNumbering).
	Numbering string
}

// Read reads the kernel log. It prefers the lockless ringbuffer (SYMBOL(prb))
// and falls back to the legacy log_buf.
func Read(mem vmem.Reader, info *vmcoreinfo.Info) (*Log, error) {
	if mem == nil || info == nil {
		return nil, errors.New("printk: no memory or no VMCOREINFO")
	}
	if _, err := info.Symbol("prb"); err == nil {
		return readRingbuffer(mem, info)
	}
	if _, err := info.Symbol("log_buf"); err == nil {
		return readLegacy(mem, info)
	}
	return nil, ErrNoLog
}

// Line is one printed line of the log.
type Line struct {
	Seq    uint64
	Level  int
	TS     uint64 // nanoseconds
	Text   string
	Caller string
	// IsContinuation marks the second and later lines of a record whose
	// text holds '\n': they carry the record's timestamp like the first.
	IsContinuation bool
}

// String is the line as dmesg prints it: "[    1.835687] text".
func (l Line) String() string { return FormatTimestamp(l.TS) + " " + l.Text }

// CrashString renders the line as crash's "log" does (printk.c
// dump_record()): later lines of a record are indented with spaces instead
// of repeating the timestamp, and unprintable bytes become '.'.
func (l Line) CrashString() string {
	prefix := FormatTimestamp(l.TS) + " "
	if l.IsContinuation {
		prefix = strings.Repeat(" ", len(prefix))
	}
	b := []byte(l.Text)
	for i, c := range b {
		if c != '\t' && (c < 0x20 || c > 0x7e) {
			b[i] = '.'
		}
	}
	return prefix + string(b)
}

// Lines splits the records into printed lines the way the kernel's
// record_print_text() does: every '\n' in a record's text starts a new line
// with the same prefix, and a text ending in '\n' gives a last, empty line.
// (crash's "log" prints the same lines, indenting the later ones with spaces
// instead of repeating the timestamp.)
func (l *Log) Lines() []Line {
	if l == nil {
		return nil
	}
	n := 0
	for i := range l.Records {
		n += strings.Count(l.Records[i].Text, "\n") + 1
	}
	out := make([]Line, 0, n)
	for i := range l.Records {
		r := &l.Records[i]
		text := r.Text
		first := true
		for {
			line, rest, more := strings.Cut(text, "\n")
			out = append(out, Line{Seq: r.Seq, Level: r.Level, TS: r.TimestampNS, Text: line,
				Caller: r.Caller, IsContinuation: !first})
			if !more {
				break
			}
			text, first = rest, false
		}
	}
	return out
}

// FormatTimestamp formats nanoseconds as print_time() does: "[%5lu.%06lu]".
func FormatTimestamp(ns uint64) string {
	return fmt.Sprintf("[%5d.%06d]", ns/1e9, (ns%1e9)/1e3)
}

// callerString is print_caller() (kernel/printk/printk.c).
func callerString(id uint32) string {
	if id&0x80000000 != 0 {
		return fmt.Sprintf("C%d", id&^0x80000000)
	}
	return fmt.Sprintf("T%d", id)
}

// gapList collects gaps, merging a gap into the previous one when the
// sequence numbers are adjacent and the reason is the same.
type gapList []Gap

func (g *gapList) add(first, last uint64, reason string, addr uint64) {
	if n := len(*g); n > 0 {
		p := &(*g)[n-1]
		if p.Reason == reason && p.LastSeq+1 == first {
			p.LastSeq = last
			return
		}
	}
	*g = append(*g, Gap{FirstSeq: first, LastSeq: last, Reason: reason, Addr: addr})
}

// faultAddr is the address in err (a *vmem.FaultError) or fallback.
func faultAddr(err error, fallback uint64) uint64 {
	var fe *vmem.FaultError
	if errors.As(err, &fe) {
		return fe.VAddr
	}
	return fallback
}

// cString is b up to its first NUL.
func cString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}
