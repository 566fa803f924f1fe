package target

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/panicscope/panicscope/vmcore/finding"
	"github.com/panicscope/panicscope/vmcore/kernel"
	"github.com/panicscope/panicscope/vmcore/kernel/symbols"
	"github.com/panicscope/panicscope/vmcore/vmem"
)

// ModuleInfo is one loaded module.
type ModuleInfo struct {
	Name    string
	Addr    uint64 // struct module
	Base    uint64 // core text base
	Size    uint64
	Symbols int
	Problem string
}

const (
	maxModules       = 4096
	maxModuleSymbols = 1 << 18
	elf64SymSize     = 24 // Elf64_Sym: st_name u32, st_info u8, st_other u8, st_shndx u16, st_value u64, st_size u64
	maxStrtab        = 16 << 20
)

// loadModules walks the `modules` list (kernel/module/main.c) and merges
// each module's own kallsyms (struct mod_kallsyms: symtab, num_symtab,
// strtab, typetab — add_kallsyms()) into the symbol table, so a callback in
// a module prints as "pvpanic_panic_notify [pvpanic]".
func (t *Target) loadModules() {
	head, err := t.Kernel.Symbol("modules")
	if err != nil {
		t.problemf(finding.NoSource, finding.AreaModules, "%w", err)
		return
	}
	err = t.Kernel.ListForEachEntry(head, "struct module", "list", maxModules, func(m kernel.Object) error {
		mi := ModuleInfo{Addr: m.Addr}
		name, err := m.Member("name")
		if err == nil {
			mi.Name, err = name.CString(64)
		}
		if err != nil {
			mi.Name = fmt.Sprintf("module@%#x", m.Addr)
			mi.Problem = fmt.Sprintf("name unreadable: %v", err)
		}
		mi.Base, mi.Size = moduleLayout(m)
		syms, err := moduleSymbols(t.Kernel, m, mi.Name)
		if err != nil && mi.Problem == "" {
			mi.Problem = fmt.Sprintf("symbols: %v", err)
		}
		if len(syms) > 0 {
			t.Syms.AddModule(mi.Name, syms)
		}
		mi.Symbols = len(syms)
		t.Modules = append(t.Modules, mi)
		return nil
	})
	if err != nil {
		t.problemf(finding.KindOf(err, finding.Damaged, vmem.IsFault), finding.AreaModules, "modules list: %w", err)
	}
	for _, m := range t.Modules {
		if m.Problem != "" {
			t.addProblem(finding.Newf(finding.Unreadable, finding.About(finding.AreaModules, m.Name), "%s", m.Problem))
		}
	}
}

// moduleLayout returns the core text base and size: struct module_layout
// core_layout before 6.4, mem[MOD_TEXT] after (struct module_memory).
func moduleLayout(m kernel.Object) (base, size uint64) {
	for _, p := range [][2]string{{"core_layout.base", "core_layout.size"}, {"mem[0].base", "mem[0].size"}} {
		b, err := m.Member(p[0])
		if err != nil {
			continue
		}
		s, err := m.Member(p[1])
		if err != nil {
			continue
		}
		base, _ = b.Pointer()
		size, _ = s.Uint()
		return base, size
	}
	return 0, 0
}

func moduleSymbols(k *kernel.Kernel, m kernel.Object, modName string) ([]symbols.Symbol, error) {
	ks, err := m.Member("kallsyms")
	if err != nil {
		return nil, err
	}
	ks, err = ks.Deref()
	if err != nil {
		return nil, err
	}
	ptr := func(name string) (uint64, error) {
		o, err := ks.Member(name)
		if err != nil {
			return 0, err
		}
		return o.Pointer()
	}
	symtab, err := ptr("symtab")
	if err != nil {
		return nil, err
	}
	strtab, err := ptr("strtab")
	if err != nil {
		return nil, err
	}
	typetab, _ := ptr("typetab") // absent before 5.2
	numObj, err := ks.Member("num_symtab")
	if err != nil {
		return nil, err
	}
	num, err := numObj.Uint()
	if err != nil {
		return nil, err
	}
	if num > maxModuleSymbols {
		return nil, fmt.Errorf("num_symtab %d is implausible", num)
	}
	raw := make([]byte, num*elf64SymSize)
	if err := k.Mem.ReadVirt(raw, symtab); err != nil {
		return nil, fmt.Errorf("symtab: %w", err)
	}
	var types []byte
	if typetab != 0 {
		types = make([]byte, num)
		if err := k.Mem.ReadVirt(types, typetab); err != nil {
			types = nil
		}
	}
	var maxName uint32
	for i := uint64(0); i < num; i++ {
		maxName = max(maxName, binary.LittleEndian.Uint32(raw[i*elf64SymSize:]))
	}
	strs, err := readStrtab(k, strtab, uint64(maxName)+512)
	if err != nil {
		return nil, fmt.Errorf("strtab: %w", err)
	}
	var out []symbols.Symbol
	for i := uint64(0); i < num; i++ {
		e := raw[i*elf64SymSize:]
		nameOff := binary.LittleEndian.Uint32(e)
		info := e[4]
		value := binary.LittleEndian.Uint64(e[8:])
		size := binary.LittleEndian.Uint64(e[16:])
		if value == 0 || int(nameOff) >= len(strs) {
			continue
		}
		name := cstr(strs[nameOff:])
		if name == "" {
			continue
		}
		typ := elfSymType(info)
		if types != nil {
			typ = types[i]
		}
		out = append(out, symbols.Symbol{Name: name, Addr: value, Size: size, Type: typ, Module: modName})
	}
	return out, nil
}

// readStrtab reads up to n bytes, shrinking at the first unreadable page so
// a string table at the end of a mapping still reads.
func readStrtab(k *kernel.Kernel, addr, n uint64) ([]byte, error) {
	n = min(n, maxStrtab)
	buf := make([]byte, n)
	if err := k.Mem.ReadVirt(buf, addr); err == nil {
		return buf, nil
	}
	var got []byte
	for off := uint64(0); off < n; {
		chunk := min(4096-(addr+off)%4096, n-off)
		if err := k.Mem.ReadVirt(buf[off:off+chunk], addr+off); err != nil {
			if len(got) == 0 {
				return nil, err
			}
			return got, nil
		}
		off += chunk
		got = buf[:off]
	}
	if got == nil {
		return nil, errors.New("empty")
	}
	return got, nil
}

func cstr(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

// elfSymType approximates nm's letter from st_info when typetab is absent.
func elfSymType(info byte) byte {
	bind, typ := info>>4, info&0xf
	c := byte('d')
	if typ == 2 { // STT_FUNC
		c = 't'
	}
	if bind == 1 || bind == 2 { // STB_GLOBAL, STB_WEAK
		c -= 'a' - 'A'
	}
	return c
}
