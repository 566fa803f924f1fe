// Package symbols is the symbol table of the dumped kernel: names, addresses,
// types and (inferred) sizes of vmlinux symbols, plus module symbols merged in
// later.
//
// Tables come from the kernel's own compressed kallsyms tables in memory
// (FromKallsyms when VMCOREINFO names them, Linux >= 6.0; ScanKallsyms by
// searching the kernel image otherwise), from a System.map file or a
// /proc/kallsyms copy (ParseSystemMap), or from any other list of symbols (New).
//
// Lookups follow kernel/kallsyms.c: ByAddr models get_symbol_pos() (the first
// of several aliases at one address wins, the size is the distance to the next
// higher address) and Format models __sprint_symbol() ("name+0xoff/0xsize
// [module]").
package symbols

import (
	"fmt"
	"hash/maphash"
	"iter"
	"math/bits"
	"sort"
	"sync"
	"sync/atomic"
)

// Symbol is one kernel or module symbol.
type Symbol struct {
	Name string
	Addr uint64
	// Size in bytes. For sources without sizes (kallsyms, System.map) it is
	// the distance to the next higher symbol address, or 0 when unknown (the
	// last symbol, or a gap larger than MaxInferredSize).
	Size uint64
	// Type is the nm-style type character: 'T', 't', 'D', 'd', 'B', 'b',
	// 'R', 'r', 'A', 'W', ... With CONFIG_KALLSYMS_ABSOLUTE_PERCPU the kernel's
	// kallsyms reports per-CPU variables as 'A' (scripts/kallsyms.c
	// make_percpus_absolute()) where System.map says 'D'/'d'.
	Type byte
	// Module is "" for vmlinux, else the module name.
	Module string
}

// Source tells where a table's vmlinux symbols came from.
type Source string

// Sources. File-based sources carry the file name after the prefix.
const (
	SourceKallsyms     Source = "kallsyms (VMCOREINFO)"
	SourceKallsymsScan Source = "kallsyms (memory scan)"
	SourceDWARF        Source = "DWARF vmlinux"
)

// SourceSystemMap is the Source of a System.map file.
func SourceSystemMap(file string) Source { return Source("System.map " + file) }

// SourceKallsymsCopy is the Source of a saved /proc/kallsyms.
func SourceKallsymsCopy(file string) Source { return Source("/proc/kallsyms copy " + file) }

// MaxInferredSize caps a size inferred from the distance to the next symbol.
// A larger gap is not a symbol but a hole in the address space: the per-CPU
// symbols (small absolute values) are followed by kernel text at
// 0xffffffff8..., and the last vmlinux symbol by the module area. Every gap
// inside the kernel image (at most 1 GiB on x86_64) stays below the cap.
const MaxInferredSize = 1 << 30

// Table is a symbol table: vmlinux symbols plus modules added with AddModule.
// All methods are safe for concurrent use; the symbols of a set never change
// once built, and AddModule publishes a new list of sets atomically.
type Table struct {
	source   Source
	encoding string
	sets     atomic.Pointer[[]*symSet] // [0] is vmlinux
	addMu    sync.Mutex                // serialises AddModule
}

// symSet is the symbols of vmlinux or of one module, sorted by address, kept
// in columns. A kallsyms set keeps the compressed names (kallsyms), each
// name's hash and the address table as read (table), and leaves sizes nil
// (each is inferred when asked for); other sources fill names, addrs and
// sizes.
type symSet struct {
	module   string
	names    []string
	kallsyms *kallsymsNames
	hashes   []uint32 // kallsyms: maphash of each name with seed
	addrs    []uint64
	table    *addrTable // kallsyms: addresses decoded on access, addrs nil
	n        int        // number of symbols
	sizes    []uint64
	types    []byte

	once  sync.Once
	seed  maphash.Seed
	slots []int32 // open addressing by name hash: index+1, 0 is empty
}

// addr is symbol i's address.
func (s *symSet) addr(i int) uint64 {
	if s.table != nil {
		return s.table.at(i)
	}
	return s.addrs[i]
}

// name is symbol i's name; a kallsyms name is expanded again (only the
// symbols a caller gets back are).
func (s *symSet) name(i int) string {
	if s.kallsyms != nil {
		return string(s.kallsyms.appendName(nil, i))
	}
	return s.names[i]
}

// nameIs reports whether symbol i is called name.
func (s *symSet) nameIs(i int, name string) bool {
	if s.kallsyms != nil {
		return s.kallsyms.nameIs(i, name)
	}
	return s.names[i] == name
}

// size is the symbol's size: the source's, else the distance to the next
// higher address when below MaxInferredSize (get_symbol_pos()), else 0.
func (s *symSet) size(i int) uint64 {
	if s.sizes != nil && s.sizes[i] != 0 {
		return s.sizes[i]
	}
	a := s.addr(i)
	for j := i + 1; j < s.n; j++ {
		if b := s.addr(j); b != a {
			if gap := b - a; gap <= MaxInferredSize {
				return gap
			}
			return 0
		}
	}
	return 0
}

func (s *symSet) sym(i int) Symbol {
	return Symbol{Name: s.name(i), Addr: s.addr(i), Size: s.size(i), Type: s.types[i], Module: s.module}
}

// New builds a table from syms (any order; the slice is not kept). A symbol
// with Size 0 gets the distance to the next higher address as its size (see
// MaxInferredSize). Symbols whose Module is not "" go to per-module sets as
// with AddModule.
func New(src Source, syms []Symbol) *Table {
	t := &Table{source: src}
	var core []Symbol
	mods := map[string][]Symbol{}
	var order []string
	for _, s := range syms {
		if s.Module == "" {
			core = append(core, s)
			continue
		}
		if _, ok := mods[s.Module]; !ok {
			order = append(order, s.Module)
		}
		mods[s.Module] = append(mods[s.Module], s)
	}
	sets := []*symSet{newSet("", core)}
	for _, m := range order {
		sets = append(sets, newSet(m, mods[m]))
	}
	t.sets.Store(&sets)
	return t
}

func newSet(module string, syms []Symbol) *symSet {
	syms = append([]Symbol(nil), syms...)
	// Stable: among aliases the caller's (kallsyms') order is kept, so the
	// first alias is the one the kernel prints.
	sort.SliceStable(syms, func(i, j int) bool { return syms[i].Addr < syms[j].Addr })
	n := len(syms)
	set := &symSet{module: module, n: n, names: make([]string, n), addrs: make([]uint64, n),
		sizes: make([]uint64, n), types: make([]byte, n)}
	for i, s := range syms {
		set.names[i], set.addrs[i], set.sizes[i], set.types[i] = s.Name, s.Addr, s.Size, s.Type
	}
	inferSizes(set.addrs, set.sizes)
	return set
}

// inferSizes sets sizes that are 0 to the distance to the next higher address
// (get_symbol_pos() in kernel/kallsyms.c), when below MaxInferredSize. addrs
// is sorted.
func inferSizes(addrs, sizes []uint64) {
	n := len(addrs)
	for i := 0; i < n; {
		j := i + 1
		for j < n && addrs[j] == addrs[i] {
			j++
		}
		var size uint64
		if j < n {
			if gap := addrs[j] - addrs[i]; gap <= MaxInferredSize {
				size = gap
			}
		}
		for k := i; k < j; k++ {
			if sizes[k] == 0 {
				sizes[k] = size
			}
		}
		i = j
	}
}

// index builds the name index once: an open-addressing table at most 2/3
// full, without an allocation per name (a kallsyms set hashed its names
// while decoding them).
func (s *symSet) index() {
	s.once.Do(func() {
		n := s.n
		if s.hashes == nil {
			s.seed = maphash.MakeSeed()
		}
		s.slots = make([]int32, 1<<bits.Len(uint(n+n/2+1)))
		mask := len(s.slots) - 1
		for i := range n {
			var h uint32
			if s.hashes != nil {
				h = s.hashes[i]
			} else {
				h = uint32(maphash.String(s.seed, s.names[i]))
			}
			j := int(h) & mask
			for s.slots[j] != 0 {
				j = (j + 1) & mask
			}
			s.slots[j] = int32(i + 1)
		}
		s.hashes = nil
	})
}

// lookup calls f with the index of each symbol called name, in no order.
func (s *symSet) lookup(name string, f func(i int)) {
	s.index()
	mask := len(s.slots) - 1
	for j := int(uint32(maphash.String(s.seed, name))) & mask; s.slots[j] != 0; j = (j + 1) & mask {
		if i := int(s.slots[j] - 1); s.nameIs(i, name) {
			f(i)
		}
	}
}

// find returns the containing symbol index and whether found.
func (s *symSet) find(addr uint64) (int, bool) {
	i := sort.Search(s.n, func(i int) bool { return s.addr(i) > addr }) - 1
	if i < 0 {
		return 0, false
	}
	// First alias at that address, as get_symbol_pos() does.
	a := s.addr(i)
	for i > 0 && s.addr(i-1) == a {
		i--
	}
	if addr == a || addr-a < s.size(i) {
		return i, true
	}
	return 0, false
}

func (t *Table) loadSets() []*symSet {
	if t == nil {
		return nil
	}
	p := t.sets.Load()
	if p == nil {
		return nil
	}
	return *p
}

// Source tells where the vmlinux symbols came from.
func (t *Table) Source() Source {
	if t == nil {
		return ""
	}
	return t.source
}

// Encoding describes how a kallsyms table stored its addresses (for
// diagnostics); "" for other sources.
func (t *Table) Encoding() string {
	if t == nil {
		return ""
	}
	return t.encoding
}

// Len is the number of symbols, modules included.
func (t *Table) Len() int {
	n := 0
	for _, s := range t.loadSets() {
		n += s.n
	}
	return n
}

// Lookup finds a symbol by name: vmlinux first, then modules in the order they
// were added. Among duplicates (static symbols of the same name) the one with
// the lowest address is returned; LookupAll returns them all.
func (t *Table) Lookup(name string) (Symbol, bool) {
	for _, s := range t.loadSets() {
		first := -1
		s.lookup(name, func(i int) {
			if first < 0 || i < first {
				first = i
			}
		})
		if first >= 0 {
			return s.sym(first), true
		}
	}
	return Symbol{}, false
}

// LookupAll returns every symbol called name, vmlinux first, each set in
// address order.
func (t *Table) LookupAll(name string) []Symbol {
	var out []Symbol
	for _, s := range t.loadSets() {
		var idx []int
		s.lookup(name, func(i int) { idx = append(idx, i) })
		sort.Ints(idx)
		for _, i := range idx {
			out = append(out, s.sym(i))
		}
	}
	return out
}

// ByAddr returns the symbol containing addr and the offset of addr in it.
// Like the kernel's get_symbol_pos(), the first of several aliases wins. A
// symbol of unknown size (0) only contains its own address.
func (t *Table) ByAddr(addr uint64) (sym Symbol, off uint64, ok bool) {
	for _, s := range t.loadSets() {
		i, found := s.find(addr)
		if !found {
			continue
		}
		if !ok || s.addr(i) > sym.Addr {
			sym, ok = s.sym(i), true
		}
	}
	if !ok {
		return Symbol{}, 0, false
	}
	return sym, addr - sym.Addr, true
}

// Format renders addr as the kernel's %pS does (__sprint_symbol()):
// "name+0xoff/0xsize", with " [module]" for module symbols; "/0xsize" is left
// out when the size is unknown, and an address in no symbol is "0x<hex>".
func (t *Table) Format(addr uint64) string {
	sym, off, ok := t.ByAddr(addr)
	if !ok {
		return fmt.Sprintf("%#x", addr)
	}
	s := fmt.Sprintf("%s+%#x", sym.Name, off)
	if sym.Size != 0 {
		s += fmt.Sprintf("/%#x", sym.Size)
	}
	if sym.Module != "" {
		s += " [" + sym.Module + "]"
	}
	return s
}

// AddModule merges the symbols of one module (their Module field is set to
// name). Symbols with Size 0 get inferred sizes within the module. Adding a
// module name again replaces its symbols. Concurrent readers see the table
// either before or after the call.
func (t *Table) AddModule(name string, syms []Symbol) {
	t.addMu.Lock()
	defer t.addMu.Unlock()
	set := newSet(name, syms)
	old := t.loadSets()
	if len(old) == 0 { // zero Table: empty vmlinux set
		old = []*symSet{newSet("", nil)}
	}
	sets := make([]*symSet, 0, len(old)+1)
	replaced := false
	for i, s := range old {
		if i > 0 && s.module == name {
			sets = append(sets, set)
			replaced = true
			continue
		}
		sets = append(sets, s)
	}
	if !replaced {
		sets = append(sets, set)
	}
	t.sets.Store(&sets)
}

// Modules lists the module names added, in order.
func (t *Table) Modules() []string {
	var out []string
	for i, s := range t.loadSets() {
		if i > 0 {
			out = append(out, s.module)
		}
	}
	return out
}

// All iterates over every symbol: vmlinux in address order, then each module.
func (t *Table) All() iter.Seq[Symbol] {
	sets := t.loadSets()
	return func(yield func(Symbol) bool) {
		for _, s := range sets {
			for i := range s.n {
				if !yield(s.sym(i)) {
					return
				}
			}
		}
	}
}
