package unwind

import (
	"debug/elf"
	"errors"
	"testing"

	"github.com/panicscope/panicscope/vmcore/arch"
	"github.com/panicscope/panicscope/vmcore/arm64"
	"github.com/panicscope/panicscope/vmcore/kernel"
	"github.com/panicscope/panicscope/vmcore/kernel/symbols"
	"github.com/panicscope/panicscope/vmcore/notes"
	"github.com/panicscope/panicscope/vmcore/vmem"
	"github.com/panicscope/panicscope/vmcore/x86"
)

type otherArch struct{ arch.Arch }

func (otherArch) Name() string            { return "riscv64" }
func (otherArch) ELFMachine() elf.Machine { return elf.EM_RISCV }

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
	// arm64 without BTF or symbols: problems (no pt_regs layout, no entry
	// text), and a walk that finds no stack.
	ua, err := NewKernel(arm64.Arch, k, noSyms{}, "")
	if err != nil || len(ua.Problems) < 2 {
		t.Fatalf("arm64: %v, %+v", err, ua)
	}
	if ct := ua.UnwindCPU(0, arm64.RegsFromWords([arm64.NumRegs]uint64{29: 0xffff800080004000, 31: 0xffff800080004000, 32: 0xffffc728ece26828, 33: 5})); ct.End != EndNoStack || len(ct.Problems) == 0 {
		t.Errorf("arm64 walk with nothing in memory: %+v", ct)
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
