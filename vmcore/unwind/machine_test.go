package unwind

import (
	"errors"
	"testing"

	"github.com/panicscope/panicscope/vmcore/arch"
	"github.com/panicscope/panicscope/vmcore/kernel"
	"github.com/panicscope/panicscope/vmcore/kernel/symbols"
	"github.com/panicscope/panicscope/vmcore/notes"
	"github.com/panicscope/panicscope/vmcore/vmem"
	"github.com/panicscope/panicscope/vmcore/x86"
)

type otherArch struct{ arch.Arch }

func (otherArch) Name() string { return "aarch64" }

type noSyms struct{}

func (noSyms) ByAddr(uint64) (symbols.Symbol, uint64, bool) { return symbols.Symbol{}, 0, false }

func TestNewKernelArch(t *testing.T) {
	k := &kernel.Kernel{Mem: &vmem.Fake{}}
	_, err := NewKernel(otherArch{x86.Arch}, k, noSyms{}, "")
	if !errors.Is(err, arch.ErrUnsupported) {
		t.Errorf("another architecture: %v, want unsupported", err)
	}
	if _, err := NewKernel(nil, k, noSyms{}, ""); err == nil {
		t.Errorf("no architecture: no error")
	}
	// x86_64 without ORC symbols: a problem, not an error; the walk still
	// runs (frame pointers, scanning).
	u, err := NewKernel(x86.Arch, k, noSyms{}, "")
	if err != nil || u.ORC != nil || len(u.Problems) == 0 {
		t.Fatalf("x86_64: %v, %+v", err, u)
	}
	ct := u.UnwindCPU(0, x86.UserRegs(x86RegsForTest()))
	if ct.Trace == nil || ct.End != EndNoStack || len(ct.Problems) == 0 {
		t.Errorf("walk with nothing in memory: %+v", ct)
	}
}

func x86RegsForTest() notes.Regs {
	return notes.Regs{RIP: 0xffffffff81000000, RSP: 0xffffc90000004000, CS: 0x10}
}
