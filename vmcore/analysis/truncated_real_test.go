package analysis_test

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/panicscope/panicscope/internal/testfixtures"
	"github.com/panicscope/panicscope/vmcore/analysis"
	"github.com/panicscope/panicscope/vmcore/analysis/timeline"
	"github.com/panicscope/panicscope/vmcore/phys"
	"github.com/panicscope/panicscope/vmcore/target"
)

// TestTruncatedReportsClaimNothingFalse cuts real dumps at 10%, 20% … 90%
// and checks every fact of the cut report against the whole dump's: it is
// the same, or unknown (nil, an Unknown status or role, a list marked
// incomplete) — never a different value that reads as a fact.
func TestTruncatedReportsClaimNothingFalse(t *testing.T) {
	for _, name := range []string{"kdump-6.1-lzo", "qemu-6.1-lp-oops-pstore"} {
		fx := testfixtures.Get(t, name)
		src := filepath.Join(fx.Dir, "vmcore")
		full := buildReport(t, src)
		st, err := os.Stat(src)
		if err != nil {
			t.Fatal(err)
		}
		for pct := int64(10); pct <= 90; pct += 10 {
			t.Run(fmt.Sprintf("%s/%d%%", name, pct), func(t *testing.T) {
				cut := cutCopy(t, src, st.Size()*pct/100)
				r := buildReport(t, cut)
				if !r.Identity.Incomplete {
					t.Error("a cut file is not marked incomplete")
				}
				compareTruncated(t, full, r)
			})
		}
	}
}

func buildReport(t *testing.T, path string) *analysis.Report {
	t.Helper()
	tg, err := target.Open(path, target.Options{})
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	defer tg.Close()
	return analysis.Build(tg)
}

func cutCopy(t *testing.T, src string, n int64) string {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	p := filepath.Join(t.TempDir(), "cut")
	out, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if _, err := io.CopyN(out, in, n); err != nil {
		t.Fatal(err)
	}
	return p
}

// same reports a pointer that is nil (unknown) or equal to the full value.
func same[T comparable](t *testing.T, what string, full, cut *T) {
	t.Helper()
	if cut != nil && (full == nil || *full != *cut) {
		t.Errorf("%s: cut dump says %v, the whole dump %v", what, *cut, deref(full))
	}
}

func deref[T any](p *T) any {
	if p == nil {
		return "unknown"
	}
	return *p
}

func compareTruncated(t *testing.T, full, cut *analysis.Report) {
	t.Helper()
	same(t, "release", full.Kernel.Release, cut.Kernel.Release)
	same(t, "panic message", full.Panic.Message, cut.Panic.Message)
	same(t, "panic cpu", full.Panic.CPU, cut.Panic.CPU)
	same(t, "panic task pid", full.Panic.TaskPID, cut.Panic.TaskPID)
	same(t, "panic task comm", full.Panic.TaskComm, cut.Panic.TaskComm)
	same(t, "taint", full.Panic.Taint, cut.Panic.Taint)
	fp, cp := full.Parameters, cut.Parameters
	same(t, "crash_kexec_post_notifiers", fp.CrashKexecPostNotifiers, cp.CrashKexecPostNotifiers)
	same(t, "crash kernel loaded", fp.CrashKernelLoaded, cp.CrashKernelLoaded)
	same(t, "panic_timeout", fp.PanicTimeout, cp.PanicTimeout)
	same(t, "panic_print", fp.PanicPrint, cp.PanicPrint)
	if cut.Kernel.Capture != full.Kernel.Capture && cut.Kernel.Capture != timeline.CaptureUnknown {
		t.Errorf("capture %s, whole dump %s", cut.Kernel.Capture, full.Kernel.Capture)
	}

	chains := map[string]analysis.Chain{}
	for _, c := range full.Chains {
		chains[c.Name] = c
	}
	for _, c := range cut.Chains {
		f, ok := chains[c.Name]
		switch {
		case !ok:
			t.Errorf("chain %s is not in the whole dump's report", c.Name)
		case c.Complete && len(c.Entries) != len(f.Entries):
			t.Errorf("chain %s: complete with %d entries, whole dump %d", c.Name, len(c.Entries), len(f.Entries))
		case len(c.Entries) > len(f.Entries):
			t.Errorf("chain %s: %d entries, whole dump %d", c.Name, len(c.Entries), len(f.Entries))
		default:
			for i, e := range c.Entries {
				if e.Callback != f.Entries[i].Callback {
					t.Errorf("chain %s entry %d: %s, whole dump %s", c.Name, i, e.Callback, f.Entries[i].Callback)
				}
			}
		}
	}
	if cut.DumpersComplete && len(cut.Dumpers) != len(full.Dumpers) {
		t.Errorf("dump_list complete with %d dumpers, whole dump %d", len(cut.Dumpers), len(full.Dumpers))
	}

	for i, c := range cut.CPUs {
		if i >= len(full.CPUs) {
			t.Errorf("cpu %d not in the whole dump", i)
			continue
		}
		f := full.CPUs[i]
		if c.Role != f.Role && c.Role != analysis.RoleUnknown {
			t.Errorf("cpu %d role %q (%s), whole dump %q", i, c.Role, c.RoleWhy, f.Role)
		}
		same(t, fmt.Sprintf("cpu %d ip symbol", i), f.IPSymbol, c.IPSymbol)
		same(t, fmt.Sprintf("cpu %d task pid", i), f.TaskPID, c.TaskPID)
		same(t, fmt.Sprintf("cpu %d task comm", i), f.TaskComm, c.TaskComm)
	}

	if len(cut.Timeline) == len(full.Timeline) {
		for i, s := range cut.Timeline {
			f := full.Timeline[i]
			if s.Status != f.Status && s.Status != timeline.Unknown {
				t.Errorf("timeline %s/%s: %s (%s), whole dump %s", s.Step, s.Slot, s.Status, s.Reason, f.Status)
			}
		}
	}
	if cut.Plan != nil && full.Plan != nil && len(cut.Plan.Steps) == len(full.Plan.Steps) {
		for i, s := range cut.Plan.Steps {
			f := full.Plan.Steps[i]
			if s.Action != f.Action && s.Action != analysis.PlanDepends {
				t.Errorf("plan %s/%s: %s (%s), whole dump %s", s.Step, s.Slot, s.Action, s.Why, f.Action)
			}
		}
	}
}

// patched overwrites one 8-byte word of physical memory.
type patched struct {
	phys.Memory
	addr, val uint64
}

func (p patched) ReadPhys(buf []byte, paddr uint64) error {
	if err := p.Memory.ReadPhys(buf, paddr); err != nil {
		return err
	}
	for k := uint64(0); k < 8; k++ {
		if a := p.addr + k; a >= paddr && a < paddr+uint64(len(buf)) {
			buf[a-paddr] = byte(p.val >> (8 * k))
		}
	}
	return nil
}

// TestCorruptChainClaimsNothingFalse breaks panic_notifier_list in a real
// dump — the third notifier_block's next made cyclic, dangling, or
// misaligned — and checks the report by the same rule as a cut file: every
// fact equals the whole dump's or is unknown, and the chain says it is not
// complete.
func TestCorruptChainClaimsNothingFalse(t *testing.T) {
	fx := testfixtures.Get(t, "kdump-6.1-lzo")
	src := filepath.Join(fx.Dir, "vmcore")
	full := buildReport(t, src)
	var chain *analysis.Chain
	for i := range full.Chains {
		if full.Chains[i].Name == "panic_notifier_list" {
			chain = &full.Chains[i]
		}
	}
	if chain == nil || len(chain.Entries) < 4 {
		t.Fatalf("panic_notifier_list: %+v", chain)
	}
	var first, third uint64
	fmt.Sscanf(chain.Entries[0].Address, "0x%x", &first)
	fmt.Sscanf(chain.Entries[2].Address, "0x%x", &third)
	tg, err := target.Open(src, target.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tg.LoadTypes()
	off, err := tg.Kernel.OffsetOf("struct notifier_block", "next")
	if err != nil {
		t.Fatal(err)
	}
	pa, err := tg.Dump.Translator().VirtToPhys(third + off)
	tg.Close()
	if err != nil {
		t.Fatal(err)
	}
	for name, val := range map[string]uint64{"cyclic": first, "dangling": 0xffffffffdead0000, "misaligned": first + 3} {
		t.Run(name, func(t *testing.T) {
			tg, err := target.Open(src, target.Options{WrapMemory: func(m phys.Memory) phys.Memory { return patched{m, pa, val} }})
			if err != nil {
				t.Fatal(err)
			}
			defer tg.Close()
			r := analysis.Build(tg)
			compareTruncated(t, full, r)
			for _, c := range r.Chains {
				if c.Name == "panic_notifier_list" && (c.Complete || len(c.Entries) < 3) {
					t.Errorf("broken chain read as complete=%v with %d entries (%s)", c.Complete, len(c.Entries), c.Broken)
				}
			}
		})
	}
}
