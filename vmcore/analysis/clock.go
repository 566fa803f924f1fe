package analysis

import (
	"errors"
	"fmt"
	"time"

	"github.com/panicscope/panicscope/vmcore/kernel"
	"github.com/panicscope/panicscope/vmcore/target"
)

// WallClock turns printk timestamps into wall-clock time, as crash's
// log -T does.
type WallClock struct {
	// OffsetNS is added to a printk timestamp (local_clock(), ns since
	// boot) to give Unix time in ns.
	OffsetNS int64
	Source   string // where the offset came from
}

// Time is the wall-clock time of a printk timestamp.
func (w WallClock) Time(tsNS uint64) time.Time {
	return time.Unix(0, int64(tsNS)+w.OffsetNS).UTC()
}

// maxUptime bounds a plausible uptime (ten years) when checking the
// timekeeper read from memory.
const maxUptime = 10 * 365 * 24 * time.Hour

// ReadWallClock finds the offset between printk time and wall-clock time:
// the timekeeper's offs_real (CLOCK_REALTIME = CLOCK_MONOTONIC + offs_real,
// kernel/time/timekeeping.c; tk_core is struct tk_data since 6.13, an
// anonymous { seqcount_raw_spinlock_t seq; struct timekeeper timekeeper; }
// before), checked against xtime_sec; else the crash time (VMCOREINFO
// CRASHTIME) less the last record's timestamp. printk's local_clock() does
// not stop for suspend the way CLOCK_MONOTONIC does not either, so the
// result is as exact as crash's.
func ReadWallClock(t *target.Target, lastTS uint64) (WallClock, error) {
	var errs []error
	if err := t.LoadTypes(); err == nil {
		w, err := timekeeperClock(t.Kernel)
		if err == nil {
			return w, nil
		}
		errs = append(errs, err)
	} else {
		errs = append(errs, err)
	}
	if info := t.Dump.VMCOREINFO(); info != nil {
		if sec, ok := info.CrashTime(); ok && lastTS > 0 {
			return WallClock{OffsetNS: sec*1e9 - int64(lastTS), Source: "VMCOREINFO CRASHTIME less the last record's timestamp (approximate: the crash kernel started after it)"}, nil
		}
	}
	errs = append(errs, errors.New("no CRASHTIME in VMCOREINFO"))
	return WallClock{}, fmt.Errorf("wall-clock time unknown: %w", errors.Join(errs...))
}

func timekeeperClock(k *kernel.Kernel) (WallClock, error) {
	addr, err := k.Symbol("tk_core")
	if err != nil {
		return WallClock{}, err
	}
	tkAddr := addr
	if off, err := k.OffsetOf("struct tk_data", "timekeeper"); err == nil {
		tkAddr += off
	} else {
		seq, err := k.Object(0, "seqcount_raw_spinlock_t")
		if err != nil {
			return WallClock{}, err
		}
		n, err := seq.Size()
		if err != nil {
			return WallClock{}, err
		}
		tkAddr += uint64((n + 7) &^ 7) // struct timekeeper is 8-byte aligned
	}
	tk, err := k.Object(tkAddr, "struct timekeeper")
	if err != nil {
		return WallClock{}, err
	}
	offs, err := memberInt(tk, "offs_real")
	if err != nil {
		return WallClock{}, fmt.Errorf("timekeeper offs_real: %w", err)
	}
	xsec, err := memberInt(tk, "xtime_sec")
	if err != nil {
		return WallClock{}, fmt.Errorf("timekeeper xtime_sec: %w", err)
	}
	// xtime_sec is realtime now; offs_real is realtime less monotonic: the
	// difference is the uptime, which must be plausible.
	uptime := time.Duration(xsec)*time.Second - time.Duration(offs)
	if xsec < 1e9 || uptime < 0 || uptime > maxUptime {
		return WallClock{}, fmt.Errorf("timekeeper at %#x implausible (xtime_sec %d, offs_real %d)", tkAddr, xsec, offs)
	}
	return WallClock{OffsetNS: offs, Source: "tk_core.timekeeper.offs_real"}, nil
}
