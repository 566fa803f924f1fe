package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/panicscope/panicscope/internal/termsafe"
	"github.com/panicscope/panicscope/vmcore/analysis"
)

// levelNames are the kernel's log levels (include/linux/kern_levels.h).
var levelNames = []string{"emerg", "alert", "crit", "err", "warn", "notice", "info", "debug"}

func parseLevel(s string) (int, error) {
	if n, err := strconv.Atoi(s); err == nil && n >= 0 && n <= 7 {
		return n, nil
	}
	for i, n := range levelNames {
		if strings.EqualFold(s, n) || strings.EqualFold(s, "KERN_"+n) {
			return i, nil
		}
	}
	return 0, fmt.Errorf("unknown level %q (want 0-7 or one of %s)", s, strings.Join(levelNames, ", "))
}

type jsonLine struct {
	Seq         uint64 `json:"seq"`
	TimestampNS uint64 `json:"timestamp_ns"`
	Level       int    `json:"level"`
	Caller      string `json:"caller,omitempty"`
	Text        string `json:"text"`
}

func runLog(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("log", stdout)
	level := fs.String("level", "", "show only lines at `LEVEL` or more severe (0-7 or emerg..debug)")
	since := fs.Uint64("since-seq", 0, "show only records with sequence number >= `SEQ`")
	caller := fs.String("caller", "", "show only records from caller `ID` (T<pid> or C<cpu>)")
	asJSON := fs.Bool("json", false, "print JSON lines")
	panicOnly := fs.Bool("panic", false, "start at the panic message")
	dmesgStyle := fs.Bool("dmesg", false, "repeat the timestamp on every line of a multi-line record, as dmesg does (default: as crash's log)")
	ctime := fs.Bool("T", false, "print wall-clock times instead of seconds since boot (crash's log -T; from the timekeeper in memory, else the crash time)")
	var tf targetFlags
	tf.register(fs)
	dump, _, err := tf.parse(fs, args, 0, 0, "usage: panicscope log DUMP|--live [--level L] [--since-seq N] [--caller T123|C1] [--panic] [--json]")
	if err != nil {
		return err
	}
	if *caller != "" && !validCaller(*caller) {
		return usagef("log: --caller %q: want T<pid> (a task) or C<cpu> (a CPU), as printk's caller_id prints them", *caller)
	}
	maxLevel := 7
	if *level != "" {
		if maxLevel, err = parseLevel(*level); err != nil {
			return usageError{err.Error()}
		}
	}
	// The log needs only VMCOREINFO and memory: skip symbols and types,
	// which cost most of the start-up time.
	t, err := tf.open(dump, stderr)
	if err != nil {
		return err
	}
	defer t.Close()
	log, err := t.Log()
	if err != nil {
		return err
	}
	var clock *analysis.WallClock
	if *ctime && !*asJSON {
		var lastTS uint64
		if n := len(log.Records); n > 0 {
			lastTS = log.Records[n-1].TimestampNS
		}
		w, err := analysis.ReadWallClock(t, lastTS)
		if err != nil {
			return fmt.Errorf("log -T: %w", err)
		}
		fmt.Fprintf(stderr, "panicscope: wall-clock times from %s\n", w.Source)
		clock = &w
	}
	from := *since
	if *panicOnly {
		rec, _, ok := log.PanicMessage()
		if !ok {
			return fmt.Errorf("no \"Kernel panic - not syncing\" message in the log")
		}
		from = max(from, rec.Seq)
	}
	if log.Dropped > 0 {
		fmt.Fprintf(stderr, "panicscope: %d older records were overwritten when the ring wrapped (first readable seq %d)\n", log.Dropped, log.FirstSeq)
	}
	const maxGapNotes = 10
	for i, g := range log.Gaps {
		if i == maxGapNotes {
			fmt.Fprintf(stderr, "panicscope: ... and %d more unreadable runs of records\n", len(log.Gaps)-i)
			break
		}
		fmt.Fprintf(stderr, "panicscope: records %d-%d unreadable: %s\n", g.FirstSeq, g.LastSeq, g.Reason)
	}
	enc := json.NewEncoder(stdout)
	gaps := log.Gaps
	for _, l := range log.Lines() {
		// Say where unreadable records were, in place, so nothing is hidden.
		for len(gaps) > 0 && gaps[0].FirstSeq <= l.Seq {
			if !*asJSON && gaps[0].LastSeq >= from {
				fmt.Fprintf(stdout, "[ records %d-%d missing: %s ]\n", gaps[0].FirstSeq, gaps[0].LastSeq, gaps[0].Reason)
			}
			gaps = gaps[1:]
		}
		if l.Seq < from || l.Level > maxLevel || (*caller != "" && l.Caller != *caller) {
			continue
		}
		if *asJSON {
			if err := enc.Encode(jsonLine{l.Seq, l.TS, l.Level, l.Caller, l.Text}); err != nil {
				return err
			}
			continue
		}
		if clock != nil {
			fmt.Fprintf(stdout, "[%s] %s\n", clock.Time(l.TS).Format("Mon Jan _2 15:04:05 MST 2006"), termsafe.String(l.Text))
		} else if *dmesgStyle {
			fmt.Fprintln(stdout, l.String())
		} else {
			fmt.Fprintln(stdout, l.CrashString())
		}
	}
	return nil
}

// validCaller is a printk caller id as the log shows it: T<pid> or C<cpu>
// (kernel/printk/printk.c: printk_caller_id()).
func validCaller(s string) bool {
	if len(s) < 2 || (s[0] != 'T' && s[0] != 'C') {
		return false
	}
	_, err := strconv.ParseUint(s[1:], 10, 32)
	return err == nil
}
