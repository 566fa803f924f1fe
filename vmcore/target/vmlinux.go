package target

import (
	"debug/elf"
	"errors"
	"fmt"

	"github.com/panicscope/panicscope/vmcore/finding"
	"github.com/panicscope/panicscope/vmcore/kernel/dwarftypes"
	"github.com/panicscope/panicscope/vmcore/kernel/symbols"
)

// openVmlinux opens the --vmlinux DWARF (read through delve's godwarf) after
// checking that its GNU build ID is the dumped kernel's: a mismatch is
// refused with a *dwarftypes.BuildIDMismatchError unless Force. The types
// stage then uses it instead of BTF.
func (t *Target) openVmlinux() error {
	want := ""
	if info := t.Dump.VMCOREINFO(); info != nil && !t.opt.Force {
		want = info.BuildID()
	}
	dt, err := dwarftypes.Open(t.opt.Vmlinux, want)
	var mismatch *dwarftypes.BuildIDMismatchError
	if errors.As(err, &mismatch) {
		return fmt.Errorf("--vmlinux is not the dumped kernel: %w (use --force to read it anyway)", err)
	}
	if err != nil {
		return fmt.Errorf("--vmlinux %s: %w", t.opt.Vmlinux, err)
	}
	t.dwarf = dt
	if t.opt.Force {
		t.problemf(finding.NoSource, finding.AreaTypes, "--force: the vmlinux build ID was not checked against the dump")
	}
	return nil
}

// vmlinuxSymbols uses the --vmlinux symbol table, shifted by the dump's
// KASLR offset, when no symbols were found in memory.
func (t *Target) vmlinuxSymbols() error {
	path := t.opt.Vmlinux
	f, err := elf.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	elfSyms, err := f.Symbols()
	if err != nil {
		return err
	}
	var off uint64
	if info := t.Dump.VMCOREINFO(); info != nil {
		off, _ = info.KernelOffset()
	}
	syms := make([]symbols.Symbol, 0, len(elfSyms))
	for _, s := range elfSyms {
		if s.Name == "" || s.Value == 0 || s.Section == elf.SHN_UNDEF {
			continue
		}
		addr := s.Value
		// Per-CPU symbols are offsets into the per-CPU area, not relocated.
		if addr >= 0xffffffff80000000 {
			addr += off
		}
		syms = append(syms, symbols.Symbol{Name: s.Name, Addr: addr, Size: s.Size, Type: elfSymType(s.Info)})
	}
	t.Syms = symbols.New(symbols.Source("DWARF vmlinux "+path), syms)
	t.SymbolSource = string(t.Syms.Source())
	return nil
}
