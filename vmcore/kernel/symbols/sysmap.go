package symbols

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/panicscope/panicscope/vmcore/vmcoreinfo"
)

// MapKind says whether a symbol file holds link-time or runtime addresses.
type MapKind int

const (
	// MapAuto decides from the content: module columns or a _text already
	// at its KASLR-relocated address mean a /proc/kallsyms copy.
	MapAuto MapKind = iota
	// MapLinkTime is System.map (nm of vmlinux): the KASLR offset is added.
	MapLinkTime
	// MapRuntime is a /proc/kallsyms copy from the crashed boot: addresses
	// are used as they are.
	MapRuntime
)

// MapOptions tune ParseMap.
type MapOptions struct {
	// KASLROffset is added to link-time kernel-image addresses
	// (VMCOREINFO KERNELOFFSET).
	KASLROffset uint64
	// Name is the file name, for Source and messages.
	Name string
	Kind MapKind
}

// x86_64 link-time address of _text (__START_KERNEL_map +
// CONFIG_PHYSICAL_START with the default 16 MiB).
const defaultText = 0xffffffff81000000

// Bounds for symbol files.
const (
	maxMapLines = 4_000_000
	maxMapLine  = 4096
)

// ErrZeroAddresses is returned for a /proc/kallsyms copy whose addresses are
// all zero: it was read without the privilege kptr_restrict asks for.
var ErrZeroAddresses = errors.New("every address is 0: this /proc/kallsyms copy was made without root (kptr_restrict hides addresses); copy it again as root")

// ParseSystemMap reads a System.map or a copy of /proc/kallsyms (lines
// "ADDR TYPE NAME" with an optional fourth column "[module]"). System.map
// addresses are link-time: kaslrOffset is added to those in the kernel image
// (at or above _text; per-CPU offsets and small absolute values stay). A
// /proc/kallsyms copy already has runtime addresses; it is recognised by
// module columns or by _text already sitting at the relocated address. Use
// ParseMap with MapRuntime or MapLinkTime to decide explicitly.
func ParseSystemMap(r io.Reader, kaslrOffset uint64, name string) (*Table, error) {
	return ParseMap(r, MapOptions{KASLROffset: kaslrOffset, Name: name})
}

// ParseMap is ParseSystemMap with options.
func ParseMap(r io.Reader, opt MapOptions) (*Table, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxMapLine)
	var syms []Symbol
	hasModules := false
	allZero := true
	lineNo := 0
	for sc.Scan() {
		lineNo++
		if lineNo > maxMapLines {
			return nil, fmt.Errorf("symbols: %s: more than %d lines", opt.Name, maxMapLines)
		}
		line := sc.Text()
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) < 3 || len(f) > 4 || len(f[1]) != 1 {
			return nil, fmt.Errorf("symbols: %s line %d: want \"ADDRESS TYPE NAME [[MODULE]]\", got %q", opt.Name, lineNo, truncate(line, 80))
		}
		addr, err := strconv.ParseUint(f[0], 16, 64)
		if err != nil || len(f[0]) > 16 {
			return nil, fmt.Errorf("symbols: %s line %d: bad address %q", opt.Name, lineNo, truncate(f[0], 40))
		}
		if len(f[2]) > maxNameLen {
			return nil, fmt.Errorf("symbols: %s line %d: name longer than %d bytes", opt.Name, lineNo, maxNameLen)
		}
		s := Symbol{Name: f[2], Addr: addr, Type: f[1][0]}
		if len(f) == 4 {
			m := f[3]
			if len(m) < 3 || m[0] != '[' || m[len(m)-1] != ']' {
				return nil, fmt.Errorf("symbols: %s line %d: module column %q is not \"[name]\"", opt.Name, lineNo, truncate(m, 40))
			}
			s.Module = m[1 : len(m)-1]
			hasModules = true
		}
		if addr != 0 {
			allZero = false
		}
		syms = append(syms, s)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("symbols: %s line %d: %w", opt.Name, lineNo+1, err)
	}
	if len(syms) == 0 {
		return nil, fmt.Errorf("symbols: %s: no symbols", opt.Name)
	}
	if allZero {
		return nil, fmt.Errorf("symbols: %s: %w", opt.Name, ErrZeroAddresses)
	}

	text, haveText := textAddr(syms)
	kind := opt.Kind
	if kind == MapAuto {
		kind = MapLinkTime
		switch {
		case hasModules:
			kind = MapRuntime
		case haveText && opt.KASLROffset != 0 && text == defaultText+opt.KASLROffset:
			kind = MapRuntime
		case haveText && text == defaultText:
			kind = MapLinkTime
		case strings.Contains(filepath.Base(opt.Name), "kallsyms"):
			kind = MapRuntime
		}
	}
	src := SourceSystemMap(opt.Name)
	if kind == MapRuntime {
		src = SourceKallsymsCopy(opt.Name)
	} else if opt.KASLROffset != 0 {
		if !haveText {
			return nil, fmt.Errorf("symbols: %s: no _text, _stext or text symbol to tell kernel-image addresses from per-CPU ones", opt.Name)
		}
		for i := range syms {
			if syms[i].Module == "" && syms[i].Addr >= text {
				syms[i].Addr += opt.KASLROffset
			}
		}
	}
	return New(src, syms), nil
}

// textAddr is where the relocated kernel image starts: _text, else _stext,
// else the lowest text symbol. Per-CPU symbols (offsets from 0) and
// absolute values lie below it.
func textAddr(syms []Symbol) (uint64, bool) {
	var stext, low uint64
	haveStext, haveLow := false, false
	for _, s := range syms {
		if s.Module != "" {
			continue
		}
		switch s.Name {
		case "_text":
			return s.Addr, true
		case "_stext":
			stext, haveStext = s.Addr, true
		}
		if (s.Type == 'T' || s.Type == 't') && (!haveLow || s.Addr < low) {
			low, haveLow = s.Addr, true
		}
	}
	if haveStext {
		return stext, true
	}
	return low, haveLow
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// Verify compares the table with every SYMBOL(name) line of VMCOREINFO whose
// name the table has, and reports how many agree. A wrong KASLR offset or a
// System.map of another build shows up as mismatches.
func (t *Table) Verify(info *vmcoreinfo.Info) (matched int, err error) {
	var bad []string
	want := vmcoreinfoSymbols(info)
	names := make([]string, 0, len(want))
	for name := range want {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		all := t.LookupAll(name)
		if len(all) == 0 {
			continue
		}
		found := false
		for _, s := range all {
			if s.Addr == want[name] {
				found = true
				break
			}
		}
		if found {
			matched++
		} else {
			bad = append(bad, fmt.Sprintf("%s: table %#x, VMCOREINFO %#x", name, all[0].Addr, want[name]))
		}
	}
	if len(bad) > 0 {
		return matched, fmt.Errorf("symbols: %s disagrees with VMCOREINFO: %s", t.Source(), strings.Join(bad, "; "))
	}
	return matched, nil
}

// vmcoreinfoSymbols returns the SYMBOL(name) lines of info that give a
// symbol's address. SYMBOL(mem_section) is left out: it is written by
// VMCOREINFO_SYMBOL_ARRAY(), the array's value, and with
// CONFIG_SPARSEMEM_EXTREME mem_section is a pointer, so the value is where it
// points, not the symbol's address.
func vmcoreinfoSymbols(info *vmcoreinfo.Info) map[string]uint64 {
	out := map[string]uint64{}
	for _, k := range info.Keys() {
		name, ok := strings.CutPrefix(k, "SYMBOL(")
		if !ok || !strings.HasSuffix(name, ")") {
			continue
		}
		name = strings.TrimSuffix(name, ")")
		if name == "mem_section" {
			continue
		}
		if v, err := info.Symbol(name); err == nil {
			out[name] = v
		}
	}
	return out
}
