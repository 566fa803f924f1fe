package lab

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/panicscope/panicscope/vmcore/analysis"
	"github.com/panicscope/panicscope/vmcore/analysis/timeline"
	"github.com/panicscope/panicscope/vmcore/target"
)

// labCache is lab.sh's LAB_CACHE.
func labCache() string {
	if d := os.Getenv("LAB_CACHE"); d != "" {
		return d
	}
	base := os.Getenv("XDG_CACHE_HOME")
	if base == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return ""
		}
		base = filepath.Join(home, ".cache")
	}
	return filepath.Join(base, "panicscope-lab")
}

// cachedDump is one dump file `lab.sh dump|kdump|compress` left in
// LAB_CACHE/dumps, with the guest console recorded at its capture.
type cachedDump struct {
	name, path, console string
}

// cachedDumps are the dumps in LAB_CACHE/dumps/*/: vmcore (QMP or the kdump
// ELF core), the QMP ELF vmcore.elf (arm64, or LAB_DUMP_ELF=1) and the
// makedumpfile copies vmcore.lzo, .zstd, .zlib, each read against
// vmcore.console.log. They live in the cache, never in the
// repository: the test skips when there is none. Make one with, e.g.:
//
//	LAB_KERNEL=7.3 lab/lab.sh dump ~/.cache/panicscope-lab/dumps/qemu-7.3/vmcore
func cachedDumps(t *testing.T) []cachedDump {
	t.Helper()
	dir := labCache()
	paths, _ := filepath.Glob(filepath.Join(dir, "dumps", "*", "vmcore"))
	var out []cachedDump
	for _, p := range paths {
		console := p + ".console.log"
		if _, err := os.Stat(console); err != nil {
			continue
		}
		base := filepath.Base(filepath.Dir(p))
		for _, ext := range []string{"", ".elf", ".lzo", ".zstd", ".zlib"} {
			if _, err := os.Stat(p + ext); err == nil {
				out = append(out, cachedDump{name: base + ext, path: p + ext, console: console})
			}
		}
	}
	if len(out) == 0 {
		t.Skipf("no lab dump with a console log in %s/dumps (make one: LAB_KERNEL=7.3 lab/lab.sh dump %s/dumps/qemu-7.3/vmcore, "+
			"or LAB_ARCH=arm64 lab/lab.sh dump %s/dumps/qemu-arm64-6.12/vmcore)", dir, dir, dir)
	}
	return out
}

// crashStarts are the first lines of a crash: panic(), an oops
// (page_fault_oops()'s "BUG: ..." line, die()'s "Oops: ..."), a WARN's cut
// line. From there on the records reach the console whatever loglevel= said
// (KERN_ALERT/KERN_EMERG lines, then console_verbose() in oops_begin() /
// vpanic()).
var crashStarts = []string{"Kernel panic - not syncing: ", "BUG: ", "Oops: ", "------------[ cut here ]------------"}

func isCrashStart(text string) bool {
	for _, p := range crashStarts {
		if strings.HasPrefix(text, p) {
			return true
		}
	}
	return false
}

// consoleFromPanic is the guest's serial console from the first line of the
// crash on. It ends where the crashed kernel's records end: at the first line
// that is not a timestamped record, or whose time goes back (a kdump console
// goes on into the crash kernel).
func consoleFromPanic(raw string) []string {
	raw = strings.ReplaceAll(raw, "\r", "")
	var out []string
	started := false
	last := ""
	for _, ln := range strings.Split(raw, "\n") {
		if _, text, ok := strings.Cut(ln, "] "); !started && ok && strings.HasPrefix(ln, "[") && isCrashStart(text) {
			started = true
		}
		if !started || ln == "" {
			continue
		}
		ts, _, ok := strings.Cut(ln, "] ")
		if !ok || !strings.HasPrefix(ts, "[") || ts < last { // "[%5lu.%06lu]": fixed width
			break
		}
		last = ts
		out = append(out, ln)
	}
	return out
}

// TestCachedDumpLogMatchesConsole: on every cached lab dump, the kernel log
// read from the dump equals, from the first line of the crash on, what the
// guest printed on its console.
func TestCachedDumpLogMatchesConsole(t *testing.T) {
	for _, cd := range cachedDumps(t) {
		path := cd.path
		t.Run(cd.name, func(t *testing.T) {
			raw, err := os.ReadFile(cd.console)
			if err != nil {
				t.Fatal(err)
			}
			want := consoleFromPanic(string(raw))
			if len(want) == 0 {
				t.Skip("the console has no crash line")
			}
			tg, err := target.Open(path, target.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer tg.Close()
			l, err := tg.Log()
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			started := false
			for _, ln := range l.Lines() {
				if !started && isCrashStart(ln.Text) {
					started = true
				}
				if started && ln.Text != "" {
					got = append(got, ln.String())
				}
			}
			if len(got) != len(want) {
				t.Errorf("%s: %d log lines from the crash on, the console has %d", tg.Dump.VMCOREINFO().OSRelease(), len(got), len(want))
			}
			for i := range min(len(got), len(want)) {
				if got[i] != want[i] {
					t.Errorf("line %d:\n log     %q\n console %q", i, got[i], want[i])
					break
				}
			}
			t.Logf("%s: %d records (%s), %d lines from the crash on equal the console", tg.Dump.VMCOREINFO().OSRelease(), len(l.Records), l.Numbering, len(got))
		})
	}
}

// TestCachedDumpModel: every cached lab dump is read with its own kernel
// line's panic() model, and the panic message is the one the console shows.
func TestCachedDumpModel(t *testing.T) {
	for _, cd := range cachedDumps(t) {
		path := cd.path
		t.Run(cd.name, func(t *testing.T) {
			raw, err := os.ReadFile(cd.console)
			if err != nil {
				t.Fatal(err)
			}
			con := consoleFromPanic(string(raw))
			if len(con) == 0 {
				t.Skip("the console has no crash line")
			}
			wantMsg := ""
			for _, ln := range con {
				if _, m, ok := strings.Cut(ln, "] Kernel panic - not syncing: "); ok {
					wantMsg = m
					break
				}
			}
			tg, err := target.Open(path, target.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer tg.Close()
			r := analysis.Build(tg)
			if wantMsg == "" {
				// panic() did not run (no panic line on the console): a
				// kdump taken by oops_end() -> crash_kexec() says so at
				// every step.
				if r.Kernel.Capture != timeline.CaptureKdump {
					t.Skip("no panic line and no kdump: nothing to check")
				}
				for _, s := range r.Timeline {
					if s.Status != timeline.NotReached || !strings.Contains(s.Reason, "panic() was not called") {
						t.Errorf("%s/%s: %s %q, want not reached: panic() was not called", s.Step, s.Slot, s.Status, s.Reason)
					}
				}
				// The handler above the oops registers: crash_kexec <
				// oops_end (x86_64's oops path).
				for _, c := range r.CPUs {
					if c.Role == analysis.RolePanicking && tg.Dump.Arch().Name() == "x86_64" {
						if j := strings.Join(c.Stack, " < "); !strings.Contains(j, "crash_kexec+") || !strings.Contains(j, "oops_end+") {
							t.Errorf("panicking CPU stack without crash_kexec < oops_end: %s", j)
						}
					}
				}
				return
			}
			rel := tg.Dump.VMCOREINFO().OSRelease()
			if want := lineOf(rel); want != "" && r.Line != want {
				t.Errorf("%s: model %s (%s), want %s", rel, r.Line, r.LineWhy, want)
			}
			if m := r.Panic.Message; m == nil || *m != wantMsg {
				t.Errorf("%s: panic message %v, console %q", rel, m, wantMsg)
			}
			// The panicking CPU unwinds from the panic through the syscall
			// that wrote to /proc/sysrq-trigger.
			if strings.Contains(wantMsg, "sysrq triggered crash") {
				if err := sysrqStack(r); err != nil {
					t.Errorf("%s: %v", rel, err)
				}
			}
			t.Logf("%s: model %s: %s", rel, r.Line, r.LineWhy)
		})
	}
}

// syscallEntry is where each architecture's system calls enter the kernel,
// the outermost frame of a syscall's stack: entry_SYSCALL_64
// (arch/x86/entry/entry_64.S); el0t_64_sync (arch/arm64/kernel/entry.S),
// whose handler calls el0_svc (arch/arm64/kernel/entry-common.c).
var syscallEntry = map[string]string{"x86_64": "entry_SYSCALL_64", "aarch64": "el0t_64_sync"}

// syscallHandler is a frame every syscall's stack holds besides the entry.
var syscallHandler = map[string]string{"aarch64": "el0_svc+"}

// sysrqStack checks the panicking CPU's stack of a sysrq-c crash: it holds
// sysrq_handle_crash and reaches the system call that wrote to
// /proc/sysrq-trigger (its entry the outermost frame; el0_svc too on arm64),
// reliably (no "? " frame) from panic() out. A CPU that QEMU stopped on an
// exception vector (arm64) has the interrupted function only as a guess from
// x30 above panic(): that is allowed.
func sysrqStack(r *analysis.Report) error {
	var stack []string
	for _, c := range r.CPUs {
		if c.Role == analysis.RolePanicking {
			stack = c.Stack
		}
	}
	joined := strings.Join(stack, " < ")
	entry, ok := syscallEntry[r.Identity.Arch]
	if !ok {
		return fmt.Errorf("no system call entry known for arch %q", r.Identity.Arch)
	}
	from := -1
	for i, f := range stack {
		if strings.HasPrefix(f, "panic+") || strings.HasPrefix(f, "vpanic+") {
			from = i
			break
		}
	}
	reaches := len(stack) > 0 && strings.HasPrefix(stack[len(stack)-1], entry)
	if h, ok := syscallHandler[r.Identity.Arch]; ok {
		found := false
		for _, f := range stack {
			found = found || strings.HasPrefix(f, h)
		}
		reaches = reaches && found
	}
	if from < 0 || strings.Contains(strings.Join(stack[from:], " < "), "? ") || !strings.Contains(joined, "sysrq_handle_crash") || !reaches {
		return fmt.Errorf("panicking CPU stack %s", joined)
	}
	return nil
}
