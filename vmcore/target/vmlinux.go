package target

import (
	"debug/elf"
	"errors"
	"fmt"

	"github.com/panicscope/panicscope/vmcore/kernel/dwarftypes"
	"github.com/panicscope/panicscope/vmcore/kernel/symbols"
)

// UseVmlinux switches types to the DWARF of a vmlinux (read through delve's
// godwarf) after checking that its GNU build ID is the dumped kernel's. A
// mismatch is refused with a *dwarftypes.BuildIDMismatchError unless force.
// When no symbols were found in memory, the vmlinux symbol table is used,
// shifted by the dump's KASLR offset.
func (t *Target) UseVmlinux(path string, force bool) error {
	want := ""
	if info := t.Dump.VMCOREINFO(); info != nil && !force {
		want = info.BuildID()
	}
	dt, err := dwarftypes.Open(path, want)
	var mismatch *dwarftypes.BuildIDMismatchError
	if errors.As(err, &mismatch) {
		return fmt.Errorf("--vmlinux is not the dumped kernel: %w (use --force to read it anyway)", err)
	}
	if err != nil {
		return fmt.Errorf("--vmlinux %s: %w", path, err)
	}
	t.closers = append(t.closers, dt.Close)
	t.Kernel.Types = dt
	t.TypeSource = fmt.Sprintf("DWARF vmlinux %s (build ID %s)", path, dt.BuildID())
	if force && want == "" {
		t.problem("--force: the vmlinux build ID was not checked against the dump")
	}
	if t.Syms == nil {
		if err := t.vmlinuxSymbols(path); err != nil {
			t.problem("vmlinux symbols: %v", err)
			return nil
		}
	}
	if len(t.Modules) == 0 {
		t.loadModules()
	}
	return nil
}

func (t *Target) vmlinuxSymbols(path string) error {
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
	t.bindSymbols()
	return nil
}
