// Package target is the one way to open a dump or a running kernel. Open
// (or OpenLive, OpenReaderAt) reads only what identifies the dump; every
// later stage — the kernel log, symbols, types, modules — is read the first
// time something asks for it, once, and is safe for concurrent use:
//
//	identity (Open) → Log → LoadSymbols → LoadTypes (+ modules) → analysis.Build
//
// It is also the one place that decides where each kind of fact comes from
// (kallsyms from VMCOREINFO, a kallsyms scan, a System.map, a DWARF vmlinux,
// BTF from memory) and records that choice.
package target

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/panicscope/panicscope/vmcore"
	"github.com/panicscope/panicscope/vmcore/finding"
	"github.com/panicscope/panicscope/vmcore/kernel"
	"github.com/panicscope/panicscope/vmcore/kernel/btfmem"
	"github.com/panicscope/panicscope/vmcore/kernel/dwarftypes"
	"github.com/panicscope/panicscope/vmcore/kernel/symbols"
	"github.com/panicscope/panicscope/vmcore/phys"
	"github.com/panicscope/panicscope/vmcore/printk"
	"github.com/panicscope/panicscope/vmcore/vmem"
)

// Options choose optional inputs. They mean the same on every command.
type Options struct {
	// SymbolsFile is a System.map or a /proc/kallsyms copy; it replaces
	// the symbols found in memory.
	SymbolsFile string
	// Vmlinux is a DWARF vmlinux of the dumped kernel: its types replace
	// BTF, and its symbols are used when kallsyms cannot be read. Its build
	// ID is checked when the target opens.
	Vmlinux string
	// Force accepts a Vmlinux whose build ID differs from the dump's.
	Force bool
	// LiveRoot prefixes the /proc and /sys paths OpenLive reads ("" is
	// "/"); tests point it at a fake tree.
	LiveRoot string
	// SplitParts names the other parts of a makedumpfile --split set the
	// dump is a part of (parts beside it with the same name but its last
	// digits are found without it).
	SplitParts []string
	// WrapMemory, when set, wraps the dump's physical memory right after
	// it is opened (trim records the pages the analysis reads this way).
	WrapMemory func(phys.Memory) phys.Memory
}

// Source names for facts that have none.
const SourceNone = "none"

// Target is an open dump (or running kernel) read in stages.
//
// Syms, SymbolSource, TypeSource and Modules are filled by LoadSymbols and
// LoadTypes: read them only after calling those (or Load).
type Target struct {
	Dump   *vmcore.Dump
	Kernel *kernel.Kernel // Syms and Types bound by the stages
	Live   *LiveState     // set by OpenLive: what /proc and /sys said

	Syms         *symbols.Table // nil when no symbol source worked
	SymbolSource string
	TypeSource   string
	Modules      []ModuleInfo

	opt      Options
	live     *livePaths        // OpenLive: where its files are
	dwarf    *dwarftypes.Types // --vmlinux, opened (and checked) by Open
	closeDmp bool              // Close closes the dump (not for variants)

	mu       sync.Mutex
	problems finding.List

	symOnce, typeOnce, logOnce sync.Once
	symErr, typeErr, logErr    error
	log                        *printk.Log
}

// ErrNoSymbols is wrapped when no symbol source could be used.
var ErrNoSymbols = errors.New("no kernel symbols")

// ErrNoTypes is wrapped when no type source could be used.
var ErrNoTypes = errors.New("no kernel types")

// Open opens the dump at path read-only and identifies it. Only a dump that
// cannot be opened at all, or a --vmlinux that is not its kernel, is an
// error; what later stages cannot read becomes a problem.
func Open(path string, opt Options) (*Target, error) {
	d, err := vmcore.OpenParts(path, opt.SplitParts)
	if errors.Is(err, vmcore.ErrUnknownFormat) {
		if hint := compressedHint(path); hint != "" {
			return nil, fmt.Errorf("%w; %s", err, hint)
		}
	}
	if err != nil {
		return nil, err
	}
	return newTarget(d, opt)
}

// compressedMagic are the whole-file compressors dumps are shipped in.
var compressedMagic = []struct{ magic, name, tool string }{
	{"\x28\xb5\x2f\xfd", "zstd", "zstd -d"},
	{"\x1f\x8b", "gzip", "gunzip"},
	{"\xfd7zXZ\x00", "xz", "unxz"},
	{"BZh", "bzip2", "bunzip2"},
}

// compressedHint says how to decompress a dump compressed as a whole file,
// or "" when path is not one.
func compressedHint(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	var b [8]byte
	n, _ := io.ReadFull(f, b[:])
	for _, c := range compressedMagic {
		if n >= len(c.magic) && string(b[:len(c.magic)]) == c.magic {
			return fmt.Sprintf("this file is %s-compressed as a whole: decompress it first (%s %s)", c.name, c.tool, path)
		}
	}
	return ""
}

// OpenReaderAt opens a dump held in r (the demo's embedded dump); name is
// used in messages.
func OpenReaderAt(r io.ReaderAt, size int64, name string, opt Options) (*Target, error) {
	d, err := vmcore.OpenReaderAt(r, size, name)
	if err != nil {
		return nil, err
	}
	return newTarget(d, opt)
}

func newTarget(d *vmcore.Dump, opt Options) (*Target, error) {
	if opt.WrapMemory != nil {
		d.WrapMemory(opt.WrapMemory)
	}
	t := &Target{Dump: d, Kernel: &kernel.Kernel{Mem: d}, opt: opt, closeDmp: true,
		SymbolSource: SourceNone, TypeSource: SourceNone}
	if opt.Vmlinux != "" {
		if err := t.openVmlinux(); err != nil {
			d.Close()
			return nil, err
		}
	}
	return t, nil
}

// Variant is a new Target over the same open dump with other options (its
// stages run afresh). Closing a variant does not close the dump.
func (t *Target) Variant(opt Options) (*Target, error) {
	opt.WrapMemory = nil // the memory is wrapped already
	v := &Target{Dump: t.Dump, Kernel: &kernel.Kernel{Mem: t.Dump}, opt: opt, live: t.live, Live: t.Live,
		SymbolSource: SourceNone, TypeSource: SourceNone}
	if opt.Vmlinux != "" {
		if err := v.openVmlinux(); err != nil {
			return nil, err
		}
	}
	return v, nil
}

// Options returns the options the target was opened with.
func (t *Target) Options() Options { return t.opt }

// Close closes the dump and any file a stage opened.
func (t *Target) Close() error {
	var err error
	if t.closeDmp {
		err = t.Dump.Close()
	}
	if t.dwarf != nil {
		err = errors.Join(err, t.dwarf.Close())
	}
	return err
}

// Problems is what could not be loaded so far, in the order found.
func (t *Target) Problems() finding.List {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append(finding.List(nil), t.problems...)
}

func (t *Target) addProblem(p finding.Problem) {
	t.mu.Lock()
	t.problems = append(t.problems, p)
	t.mu.Unlock()
}

func (t *Target) problemf(kind finding.Kind, area, format string, args ...any) {
	t.addProblem(finding.Newf(kind, finding.About(area), format, args...))
}

// Load runs every stage the analysis needs: symbols, types and modules.
func (t *Target) Load() {
	t.LoadSymbols()
	t.LoadTypes()
}

// LoadSymbols finds the kernel's symbols once: a --symbols file, else
// /proc/kallsyms (live), else kallsyms through VMCOREINFO or a scan of the
// kernel image, else the --vmlinux symbol table. The error (also recorded
// as a problem) wraps ErrNoSymbols when none worked.
func (t *Target) LoadSymbols() error {
	t.symOnce.Do(func() {
		t.symErr = t.loadSymbols()
		if t.symErr != nil && t.dwarf != nil {
			if err := t.vmlinuxSymbols(); err != nil {
				t.symErr = fmt.Errorf("%w; vmlinux symbols: %v", t.symErr, err)
			} else {
				t.symErr = nil
			}
		}
		if t.symErr != nil {
			t.addProblem(finding.New(finding.NoSource, finding.About(finding.AreaSymbols), t.symErr))
			return
		}
		t.bindSymbols()
	})
	return t.symErr
}

// LoadTypes finds the kernel's types once (after symbols, which locate the
// BTF): the --vmlinux DWARF, else BTF from /sys/kernel/btf (live), else BTF
// in kernel memory; then walks the module list for module symbols. The
// error (also recorded as a problem) wraps ErrNoTypes when none worked.
func (t *Target) LoadTypes() error {
	t.typeOnce.Do(func() {
		if err := t.LoadSymbols(); err != nil {
			t.typeErr = fmt.Errorf("%w: types are located through symbols, and %v", ErrNoTypes, err)
			return
		}
		t.typeErr = t.loadTypes()
		if t.typeErr != nil {
			t.addProblem(finding.New(finding.NoSource, finding.About(finding.AreaTypes), t.typeErr))
			return
		}
		t.loadModules()
	})
	return t.typeErr
}

// bindSymbols points the object layer at t.Syms.
func (t *Target) bindSymbols() {
	t.Kernel.Syms = kernel.SymbolFunc(func(name string) (uint64, bool) {
		s, ok := t.Syms.Lookup(name)
		return s.Addr, ok
	})
}

func (t *Target) loadSymbols() error {
	if t.opt.SymbolsFile != "" {
		return t.symbolFile()
	}
	if t.live != nil {
		err := t.procKallsyms(t.live.path(LiveKallsyms))
		if err == nil {
			return nil
		}
		t.problemf(finding.NoSource, finding.AreaSymbols, "%v; using kallsyms through VMCOREINFO", err)
	}
	info := t.Dump.VMCOREINFO()
	if info == nil {
		return fmt.Errorf("%w: the dump has no VMCOREINFO and no --symbols file was given", ErrNoSymbols)
	}
	tab, err := symbols.FromKallsyms(t.Dump, info)
	if err != nil {
		// Kernels before 6.0 do not list kallsyms in VMCOREINFO: find the
		// tables in the kernel image instead.
		scanned, serr := symbols.ScanKallsymsInfo(t.Dump, info)
		if serr != nil {
			return fmt.Errorf("%w: kallsyms via VMCOREINFO: %v; kallsyms scan: %v (give --symbols System.map)", ErrNoSymbols, err, serr)
		}
		tab = scanned
	}
	t.Syms, t.SymbolSource = tab, string(tab.Source())
	return nil
}

func (t *Target) symbolFile() error {
	name := t.opt.SymbolsFile
	f, err := os.Open(name)
	if err != nil {
		return fmt.Errorf("%w: symbol file: %w", ErrNoSymbols, err)
	}
	defer f.Close()
	info := t.Dump.VMCOREINFO()
	var off uint64
	if info != nil {
		off, _ = info.KernelOffset()
	}
	tab, err := symbols.ParseSystemMap(f, off, name)
	if err != nil {
		return fmt.Errorf("%w: symbol file %s: %w", ErrNoSymbols, name, err)
	}
	if info != nil {
		if _, err := tab.Verify(info); err != nil {
			return fmt.Errorf("%w: symbol file %s does not match this dump: %w", ErrNoSymbols, name, err)
		}
	}
	t.Syms, t.SymbolSource = tab, string(tab.Source())
	return nil
}

func (t *Target) loadTypes() error {
	if t.dwarf != nil {
		t.Kernel.Types = t.dwarf
		t.TypeSource = fmt.Sprintf("DWARF vmlinux %s (build ID %s)", t.opt.Vmlinux, t.dwarf.BuildID())
		return nil
	}
	if t.live != nil {
		err := t.liveTypes(t.live.path(LiveBTFDir))
		if err == nil {
			return nil
		}
		t.problemf(finding.NoSource, finding.AreaTypes, "%v; using BTF in kernel memory", err)
	}
	return t.memoryBTF()
}

// memoryBTF reads vmlinux BTF between __start_BTF and __stop_BTF and each
// module's BTF from btf_modules.
func (t *Target) memoryBTF() error {
	spec, err := t.Kernel.LoadBTF()
	if err != nil {
		return fmt.Errorf("%w: no BTF in kernel memory: %w", ErrNoTypes, err)
	}
	t.Kernel.Types = btfmem.NewTypes(spec)
	t.TypeSource = "BTF in kernel memory (__start_BTF)"
	mods, err := t.Kernel.ModuleBTFs(spec, 4096)
	if err != nil {
		// btf_modules is absent without CONFIG_DEBUG_INFO_BTF_MODULES (5.10).
		kind := finding.KindOf(err, finding.Damaged, vmem.IsFault)
		if errors.Is(err, kernel.ErrAbsent) {
			kind = finding.NoSource
		}
		t.problemf(kind, finding.AreaTypes, "module BTF: %w", err)
		return nil
	}
	var specs []*btfmem.Spec
	for _, m := range mods {
		switch {
		case m.Err != nil:
			t.addProblem(finding.Newf(finding.KindOf(m.Err, finding.Damaged, vmem.IsFault),
				finding.About(finding.AreaTypes, m.Name), "module BTF unreadable: %w", m.Err))
		case m.Spec != nil:
			specs = append(specs, m.Spec)
		}
	}
	if len(specs) > 0 {
		t.Kernel.Types = btfmem.NewTypes(spec, specs...)
		t.TypeSource = fmt.Sprintf("BTF in kernel memory (__start_BTF) + %d module BTF", len(specs))
	}
	return nil
}

// Log reads the kernel log once; it needs only VMCOREINFO and memory.
func (t *Target) Log() (*printk.Log, error) {
	t.logOnce.Do(func() {
		info := t.Dump.VMCOREINFO()
		if info == nil {
			t.logErr = fmt.Errorf("kernel log: %s has no VMCOREINFO, so the log cannot be located", t.Dump.Path)
			return
		}
		t.log, t.logErr = printk.Read(t.Dump, info)
	})
	return t.log, t.logErr
}
