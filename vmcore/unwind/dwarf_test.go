package unwind

import (
	"debug/elf"
	"encoding/binary"
	"path/filepath"
	"testing"

	"github.com/go-delve/delve/pkg/dwarf/frame"

	"github.com/panicscope/panicscope/internal/testfixtures"
)

// dwarfRSP is DWARF register 7 on x86_64 (rsp).
const dwarfRSP = 7

// TestDWARFCrossCheck compares every ORC (and call-site) call-frame step of the 6.1
// fixtures' walks (each CPU and every sleeping task) with the vmlinux's DWARF
// CFI (.debug_frame, read with delve's pkg/dwarf/frame): where the CFA rule
// is rsp-based, the caller's stack pointer ORC found must be the CFA DWARF
// computes. Runs only where the -dbg vmlinux is installed.
func TestDWARFCrossCheck(t *testing.T) {
	debugVmlinux61 := testfixtures.DebugVmlinux(t, "6.1.0-56-amd64")
	if testing.Short() {
		t.Skip("parses 2.6 MB of .debug_frame")
	}
	ef, err := elf.Open(debugVmlinux61)
	if err != nil {
		t.Fatal(err)
	}
	defer ef.Close()
	sec := ef.Section(".debug_frame")
	if sec == nil {
		t.Skip("no .debug_frame")
	}
	data, err := sec.Data()
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := frame.Parse(data, binary.LittleEndian, 0, 8, 0)
	if err != nil {
		t.Fatal(err)
	}
	// FDEForPC searches by address: sort (Append sorts and drops duplicates).
	var fdes frame.FrameDescriptionEntries
	fdes = fdes.Append(parsed)
	var linkStext uint64
	if syms, err := ef.Symbols(); err == nil {
		for _, s := range syms {
			if s.Name == "_stext" {
				linkStext = s.Value
			}
		}
	}
	if linkStext == 0 {
		t.Fatal("no _stext in the vmlinux")
	}
	total := map[string]int{}
	for _, fx := range testfixtures.All(t) {
		if fx.Meta.KernelRelease != "6.1.0-56-amd64" {
			continue
		}
		t.Run(fx.Name, func(t *testing.T) {
			ft := openTraces(t, filepath.Join(fx.Dir, "vmcore"))
			slide := ft.u.ORC.TextStart - linkStext // the KASLR offset
			var traces []*Trace
			for _, c := range ft.cpus {
				traces = append(traces, c.Trace)
			}
			tasks, _ := ft.u.Tasks(0)
			for _, task := range tasks {
				traces = append(traces, ft.u.UnwindTask(task))
			}
			n := map[string]int{}
			for _, tr := range traces {
				for i := 0; i+1 < len(tr.Frames); i++ {
					f, next := tr.Frames[i], tr.Frames[i+1]
					if !f.Reliable || f.Module != "" || (next.Method != MethodORC && next.Method != MethodCallSite) || next.Regs != nil || next.Stack != f.Stack {
						continue
					}
					look := f.PC
					if !f.Signal {
						look--
					}
					fde, err := fdes.FDEForPC(look - slide)
					if err != nil {
						n["no FDE"]++
						continue
					}
					ctx, err := fde.EstablishFrame(look - slide)
					if err != nil || ctx.CFA.Rule != frame.RuleCFA || ctx.CFA.Reg != dwarfRSP {
						n["CFA not rsp-based"]++
						continue
					}
					if cfa := f.SP + uint64(ctx.CFA.Offset); cfa != next.SP {
						n["mismatch"]++
						t.Errorf("%s at %#x: ORC gives the caller SP %#x, DWARF CFA %#x (rsp%+d)", f.Symbol(), f.PC, next.SP, cfa, ctx.CFA.Offset)
						continue
					}
					n["agree"]++
					if next.Method == MethodCallSite {
						n["call-site agrees"]++
					}
				}
			}
			t.Logf("%v", n)
			for k, v := range n {
				total[k] += v
			}
			if n["agree"] < 100 {
				t.Errorf("only %d frames checked against DWARF", n["agree"])
			}
		})
	}
	t.Logf("all 6.1 fixtures: %v", total)
}
