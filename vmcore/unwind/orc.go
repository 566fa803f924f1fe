package unwind

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/panicscope/panicscope/vmcore/kernel"
	"github.com/panicscope/panicscope/vmcore/vmem"
)

// ORC base registers in the numbering of 4.14 … 6.x (RegsV1,
// arch/x86/include/asm/orc_types.h, identical in 5.10, 6.1 and 6.12). Entries
// of a kernel that numbers them otherwise are converted to it when decoded
// (RegNumbering).
const (
	RegUndefined  = 0
	RegPrevSP     = 1
	RegDX         = 2
	RegDI         = 3
	RegBP         = 4
	RegSP         = 5
	RegR10        = 6
	RegR13        = 7
	RegBPIndirect = 8
	RegSPIndirect = 9
	RegAX         = 10 // ORC_REG_AX: 10 where backported to RegsV1, 1 in RegsV2
	regUnknown    = 15 // a number the kernel's numbering does not define
)

// RegNumbering is how a kernel numbers the ORC base registers (ORC_REG_*).
//
//	RegsV1 (4.14 … 6.x): UNDEFINED 0, PREV_SP 1, DX 2, DI 3, BP 4, SP 5,
//	    R10 6, R13 7, BP_INDIRECT 8, SP_INDIRECT 9 (AX 10 where backported).
//	RegsV2 (Debian 7.3.4 arch/x86/include/asm/orc_types.h): UNDEFINED 0,
//	    AX 1, DX 2, SP 3, BP 4, DI 5, R10 6, R13 7, PREV_SP 8,
//	    SP_INDIRECT 9, BP_INDIRECT 10.
//
// The kernel's own constant entries tell them apart (detectRegs):
// null_orc_entry's sp_reg is ORC_REG_SP, orc_fp_entry's sp_reg ORC_REG_BP and
// its bp_reg ORC_REG_PREV_SP (unwind_orc.c).
type RegNumbering int

// Register numberings.
const (
	RegsV1 RegNumbering = 1
	RegsV2 RegNumbering = 2
)

func (n RegNumbering) String() string {
	switch n {
	case RegsV1:
		return "v1 (PREV_SP 1, SP 5: Linux 4.14 … 6.x)"
	case RegsV2:
		return "v2 (AX 1, SP 3, PREV_SP 8: Linux 7.x)"
	}
	return fmt.Sprintf("numbering(%d)", int(n))
}

// regsV2 maps RegsV2 numbers to the RegsV1 ones the walker uses.
var regsV2 = [16]uint8{0: RegUndefined, 1: RegAX, 2: RegDX, 3: RegSP, 4: RegBP, 5: RegDI, 6: RegR10, 7: RegR13,
	8: RegPrevSP, 9: RegSPIndirect, 10: RegBPIndirect, 11: regUnknown, 12: regUnknown, 13: regUnknown,
	14: regUnknown, 15: regUnknown}

// toV1 converts an entry's registers from numbering n.
func (n RegNumbering) toV1(e Entry) Entry {
	if n == RegsV2 {
		e.SPReg, e.BPReg = regsV2[e.SPReg&0xf], regsV2[e.BPReg&0xf]
	}
	return e
}

// Entry types, in the numbering of Linux >= 6.4 (ORC_TYPE_* in
// arch/x86/include/asm/orc_types.h). Older layouts are converted to it when
// an entry is decoded.
const (
	TypeUndefined    = 0
	TypeEndOfStack   = 1
	TypeCall         = 2
	TypeRegs         = 3
	TypeRegsPartial  = 4
	typeUnknownOlder = 7 // a value the old 2-bit field can hold but no kernel wrote
)

// EntrySize is sizeof(struct orc_entry): two s16 and a 16-bit bitfield,
// __packed.
const EntrySize = 6

// LookupBlockSize is LOOKUP_BLOCK_SIZE (arch/x86/include/asm/orc_lookup.h):
// orc_lookup[] has one slot per 256 bytes of [_stext, _etext).
const LookupBlockSize = 256

// Layout is the bit layout of the 16 flag bits after sp_offset and bp_offset
// in struct orc_entry (little-endian bitfields, arch/x86/include/asm/
// orc_types.h). It changed twice:
//
//	LayoutV1 (4.14 .. 6.2, so 5.10 and 6.1):  sp_reg:4 bp_reg:4 type:2 end:1
//	    type: UNWIND_HINT_TYPE_CALL 0, _REGS 1, _REGS_PARTIAL 2 (5.10 calls it
//	    ORC_TYPE_REGS_IRET); sp_reg == ORC_REG_UNDEFINED with end set is the
//	    end of the stack, without end an unwind-info hole (unwind_orc.c).
//	LayoutV2 (6.3, commit ffb1b4a41016 "x86/unwind/orc: Add 'signal' field"):
//	    sp_reg:4 bp_reg:4 type:2 signal:1 end:1
//	LayoutV3 (6.4+, commit fb799447ae29 "x86,objtool: Split UNWIND_HINT_EMPTY
//	    in two"): sp_reg:4 bp_reg:4 type:3 signal:1, with ORC_TYPE_UNDEFINED 0,
//	    END_OF_STACK 1, CALL 2, REGS 3, REGS_PARTIAL 4.
type Layout int

// Layouts of struct orc_entry.
const (
	LayoutV1 Layout = 1
	LayoutV2 Layout = 2
	LayoutV3 Layout = 3
)

func (l Layout) String() string {
	switch l {
	case LayoutV1:
		return "v1 (type:2 end:1, Linux < 6.3)"
	case LayoutV2:
		return "v2 (type:2 signal:1 end:1, Linux 6.3)"
	case LayoutV3:
		return "v3 (type:3 signal:1, Linux >= 6.4)"
	}
	return fmt.Sprintf("layout(%d)", int(l))
}

// Entry is one decoded struct orc_entry, with Type in the 6.4+ numbering.
type Entry struct {
	SPOffset int16
	BPOffset int16
	SPReg    uint8
	BPReg    uint8
	Type     uint8
	// Signal: the IP this entry describes is not a return address, so the
	// next lookup uses it as is rather than IP-1. Before 6.3 the kernel
	// derived it from the type (unwind_next_frame() sets state->signal for
	// REGS and REGS_PARTIAL frames).
	Signal bool
}

// DecodeEntry decodes the 6 bytes of a struct orc_entry in layout l.
func DecodeEntry(b []byte, l Layout) Entry {
	e := Entry{
		SPOffset: int16(binary.LittleEndian.Uint16(b[0:])),
		BPOffset: int16(binary.LittleEndian.Uint16(b[2:])),
	}
	f := binary.LittleEndian.Uint16(b[4:])
	e.SPReg, e.BPReg = uint8(f&0xf), uint8(f>>4&0xf)
	switch l {
	case LayoutV3:
		e.Type = uint8(f >> 8 & 7)
		e.Signal = f>>11&1 != 0
		return e
	case LayoutV2:
		e.Signal = f>>10&1 != 0
		e.Type = oldType(uint8(f>>8&3), e.SPReg, f>>11&1 != 0)
		return e
	default:
		e.Type = oldType(uint8(f>>8&3), e.SPReg, f>>10&1 != 0)
		e.Signal = e.Type == TypeRegs || e.Type == TypeRegsPartial
		return e
	}
}

// oldType maps a type of the 2-bit layouts to the 6.4+ numbering; the
// end-of-stack and hole cases were encoded in sp_reg and end.
func oldType(t, spReg uint8, end bool) uint8 {
	if spReg == RegUndefined {
		if end {
			return TypeEndOfStack
		}
		return TypeUndefined
	}
	switch t {
	case 0:
		return TypeCall
	case 1:
		return TypeRegs
	case 2:
		return TypeRegsPartial
	}
	return typeUnknownOlder
}

// nullEntry is null_orc_entry (unwind_orc.c): for IP 0, the last thing that
// ran was a call through a NULL pointer, so the return address is at SP.
var nullEntry = Entry{SPOffset: 8, SPReg: RegSP, BPReg: RegUndefined, Type: TypeCall}

// fpEntry is orc_fp_entry (unwind_orc.c): the frame-pointer guess used for
// code ORC does not describe.
var fpEntry = Entry{SPOffset: 16, SPReg: RegBP, BPOffset: -16, BPReg: RegPrevSP, Type: TypeCall}

// Bounds on table sizes read from a dump.
const (
	maxVmlinuxEntries = 1 << 24
	maxModuleEntries  = 1 << 21
	maxModules        = 4096
	maxModuleRanges   = 8
)

// ModuleORC is the ORC table of one module: struct module.arch
// (struct mod_arch_specific: orc_unwind_ip, orc_unwind, num_orcs, set by
// unwind_module_init()).
type ModuleORC struct {
	Name string
	// Text lists the module's text ranges [start, end).
	Text [][2]uint64
	IP   uint64 // int orc_unwind_ip[]
	ORC  uint64 // struct orc_entry orc_unwind[]
	Num  uint64
}

// Table is the kernel's ORC data in dump memory: vmlinux's sorted
// __start_orc_unwind_ip / __start_orc_unwind arrays with the orc_lookup
// block index (unwind_init()), plus each module's table. It reads entries on
// demand and holds no copy of the tables.
type Table struct {
	Mem    vmem.Reader
	Layout Layout
	// Regs is the kernel's register numbering; entries are returned in
	// RegsV1's.
	Regs RegNumbering

	IPStart  uint64 // __start_orc_unwind_ip
	ORCStart uint64 // __start_orc_unwind
	Num      uint64 // entries in both arrays

	Lookup       uint64 // orc_lookup
	LookupBlocks uint64 // lookup_num_blocks
	TextStart    uint64 // _stext (LOOKUP_START_IP)
	TextEnd      uint64 // _etext (LOOKUP_STOP_IP)
	InitStart    uint64 // _sinittext
	InitEnd      uint64 // _einittext

	Modules []ModuleORC
}

// ErrNoORC is wrapped when the kernel has no ORC tables (built with the
// frame-pointer unwinder, or symbols missing).
var ErrNoORC = errors.New("no ORC unwind tables")

// LoadTable finds the ORC tables of the dumped kernel through its symbols,
// decides the entry layout (BTF struct orc_entry members, else the release)
// and reads the modules' tables from the `modules` list. release may be "".
// Module problems do not fail the load; they are returned in the second
// value.
func LoadTable(k *kernel.Kernel, release string) (*Table, []string, error) {
	sym := func(name string) uint64 {
		a, err := k.Symbol(name)
		if err != nil {
			return 0
		}
		return a
	}
	t := &Table{
		Mem:       k.Mem,
		IPStart:   sym("__start_orc_unwind_ip"),
		ORCStart:  sym("__start_orc_unwind"),
		Lookup:    sym("orc_lookup"),
		TextStart: sym("_stext"),
		TextEnd:   sym("_etext"),
		InitStart: sym("_sinittext"),
		InitEnd:   sym("_einittext"),
	}
	stopIP := sym("__stop_orc_unwind_ip")
	if t.IPStart == 0 || t.ORCStart == 0 || stopIP <= t.IPStart {
		return nil, nil, fmt.Errorf("%w: __start_orc_unwind_ip / __stop_orc_unwind_ip / __start_orc_unwind not in the symbol table", ErrNoORC)
	}
	t.Num = (stopIP - t.IPStart) / 4
	if t.Num > maxVmlinuxEntries {
		return nil, nil, fmt.Errorf("%w: %d entries is implausible", ErrNoORC, t.Num)
	}
	if stop := sym("__stop_orc_unwind"); stop != 0 && (stop-t.ORCStart)/EntrySize != t.Num {
		return nil, nil, fmt.Errorf("%w: orc_unwind_ip has %d entries, orc_unwind %d", ErrNoORC, t.Num, (stop-t.ORCStart)/EntrySize)
	}
	// lookup_num_blocks = orc_lookup_end - orc_lookup (unwind_init()); the
	// variable is static, so fall back to the symbol distance.
	if a := sym("lookup_num_blocks"); a != 0 {
		if v, err := vmem.ReadU32(k.Mem, a); err == nil {
			t.LookupBlocks = uint64(v)
		}
	}
	if end := sym("orc_lookup_end"); t.LookupBlocks == 0 && end > t.Lookup && t.Lookup != 0 {
		t.LookupBlocks = (end - t.Lookup) / 4
	}
	if t.TextEnd > t.TextStart {
		if maxBlocks := (t.TextEnd-t.TextStart)/LookupBlockSize + 2; t.LookupBlocks > maxBlocks {
			t.LookupBlocks = 0 // hostile: ignore the index, search the whole table
		}
	}
	t.Layout = detectLayout(k, release)
	var problems []string
	regs, note, err := detectRegs(k, t.Layout, release)
	if err != nil {
		return nil, nil, err
	}
	t.Regs = regs
	if note != "" {
		problems = append(problems, note)
	}
	if k.Types != nil {
		problems = t.loadModules(k)
	} else {
		problems = append(problems, "no kernel types: module ORC tables not read")
	}
	return t, problems, nil
}

// detectRegs reads the register numbering from the kernel's constant
// entries null_orc_entry ({.sp_reg = ORC_REG_SP, .bp_reg = ORC_REG_UNDEFINED})
// and orc_fp_entry ({.sp_reg = ORC_REG_BP, .bp_reg = ORC_REG_PREV_SP}) in
// arch/x86/kernel/unwind_orc.c. Without them (a kernel built without
// CONFIG_KALLSYMS_ALL has no static data symbols) the release decides and
// note says so. A numbering that is neither known one is an error wrapping
// ErrNoORC: reading entries with the wrong registers gives garbage frames.
func detectRegs(k *kernel.Kernel, l Layout, release string) (RegNumbering, string, error) {
	read := func(name string) (Entry, error) {
		a, err := k.Symbol(name)
		if err != nil {
			return Entry{}, err
		}
		var b [EntrySize]byte
		if err := k.Mem.ReadVirt(b[:], a); err != nil {
			return Entry{}, err
		}
		return DecodeEntry(b[:], l), nil
	}
	null, err1 := read("null_orc_entry")
	fp, err2 := read("orc_fp_entry")
	if err := errors.Join(err1, err2); err != nil {
		n := RegsV1
		if major, _, ok := parseRelease(release); ok && major >= 7 {
			n = RegsV2
		}
		return n, fmt.Sprintf("ORC register numbering %s assumed from the release %q (null_orc_entry / orc_fp_entry unreadable: %v)", n, release, err), nil
	}
	sp, bp, prevSP := null.SPReg, fp.SPReg, fp.BPReg
	switch {
	case sp == 5 && bp == 4 && prevSP == 1:
		return RegsV1, "", nil
	case sp == 3 && bp == 4 && prevSP == 8:
		return RegsV2, "", nil
	}
	return 0, "", fmt.Errorf("%w: unknown ORC register numbering (ORC_REG_SP %d, ORC_REG_BP %d, ORC_REG_PREV_SP %d in null_orc_entry / orc_fp_entry)",
		ErrNoORC, sp, bp, prevSP)
}

// detectLayout tells the struct orc_entry layout from its BTF members
// ("end" without "signal": v1, both: v2, "signal" only: v3), else from the
// kernel release.
func detectLayout(k *kernel.Kernel, release string) Layout {
	if k.Types != nil {
		if o, err := k.Object(0, "struct orc_entry"); err == nil {
			_, errEnd := o.Member("end")
			_, errSig := o.Member("signal")
			switch {
			case errEnd == nil && errSig != nil:
				return LayoutV1
			case errEnd == nil && errSig == nil:
				return LayoutV2
			case errEnd != nil && errSig == nil:
				return LayoutV3
			}
		}
	}
	return LayoutForRelease(release)
}

// LayoutForRelease is the struct orc_entry layout of a kernel release
// ("6.1.0-56-amd64"); an unparsable release gives LayoutV1.
func LayoutForRelease(release string) Layout {
	major, minor, ok := parseRelease(release)
	switch {
	case !ok:
		return LayoutV1
	case major > 6 || major == 6 && minor >= 4:
		return LayoutV3
	case major == 6 && minor == 3:
		return LayoutV2
	}
	return LayoutV1
}

func parseRelease(r string) (major, minor int, ok bool) {
	parts := strings.SplitN(r, ".", 3)
	if len(parts) < 2 {
		return 0, 0, false
	}
	digits := func(s string) string {
		i := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		return s[:i]
	}
	a, err1 := strconv.Atoi(digits(parts[0]))
	b, err2 := strconv.Atoi(digits(parts[1]))
	return a, b, err1 == nil && err2 == nil
}

// loadModules walks `modules` (kernel/module/main.c) and records each
// module's text ranges and struct mod_arch_specific ORC table.
func (t *Table) loadModules(k *kernel.Kernel) []string {
	var problems []string
	head, err := k.Symbol("modules")
	if err != nil {
		return []string{fmt.Sprintf("modules: %v", err)}
	}
	err = k.ListForEachEntry(head, "struct module", "list", maxModules, func(m kernel.Object) error {
		mo := ModuleORC{Name: fmt.Sprintf("module@%#x", m.Addr)}
		if n, err := m.Member("name"); err == nil {
			if s, err := n.CString(64); err == nil && s != "" {
				mo.Name = s
			}
		}
		mo.Text = moduleText(m)
		ip, err1 := memberPointer(m, "arch.orc_unwind_ip")
		orc, err2 := memberPointer(m, "arch.orc_unwind")
		num, err3 := memberUint(m, "arch.num_orcs")
		if err := errors.Join(err1, err2, err3); err != nil {
			problems = append(problems, fmt.Sprintf("module %s: ORC table: %v", mo.Name, err))
		} else if num > maxModuleEntries {
			problems = append(problems, fmt.Sprintf("module %s: num_orcs %d is implausible", mo.Name, num))
		} else {
			mo.IP, mo.ORC, mo.Num = ip, orc, num
		}
		t.Modules = append(t.Modules, mo)
		return nil
	})
	if err != nil {
		problems = append(problems, fmt.Sprintf("modules list: %v", err))
	}
	return problems
}

// moduleText returns the text ranges of a module: core_layout/init_layout
// {base, text_size} before 6.4, mem[MOD_TEXT] and mem[MOD_INIT_TEXT]
// (enum mod_mem_type: 0 and 4) after (include/linux/module.h).
func moduleText(m kernel.Object) [][2]uint64 {
	var out [][2]uint64
	add := func(base, size string) bool {
		b, err := memberPointer(m, base)
		if err != nil {
			return false
		}
		s, err := memberUint(m, size)
		if err != nil {
			return false
		}
		if b != 0 && s != 0 && s < 1<<30 && b+s > b {
			out = append(out, [2]uint64{b, b + s})
		}
		return true
	}
	if add("core_layout.base", "core_layout.text_size") {
		add("init_layout.base", "init_layout.text_size")
		return out
	}
	add("mem[0].base", "mem[0].size")
	add("mem[4].base", "mem[4].size")
	return out
}

func memberPointer(o kernel.Object, path string) (uint64, error) {
	m, err := o.Member(path)
	if err != nil {
		return 0, err
	}
	return m.Pointer()
}

func memberUint(o kernel.Object, path string) (uint64, error) {
	m, err := o.Member(path)
	if err != nil {
		return 0, err
	}
	return m.Uint()
}

// ModuleAt returns the module whose text holds ip.
func (t *Table) ModuleAt(ip uint64) (*ModuleORC, bool) {
	for i := range t.Modules {
		for _, r := range t.Modules[i].Text {
			if ip >= r[0] && ip < r[1] {
				return &t.Modules[i], true
			}
		}
	}
	return nil, false
}

// IsText reports whether addr is kernel or module text
// (__kernel_text_address() without ftrace/BPF/kprobe trampolines).
func (t *Table) IsText(addr uint64) bool {
	if t.TextEnd > t.TextStart && addr >= t.TextStart && addr < t.TextEnd {
		return true
	}
	if t.InitEnd > t.InitStart && addr >= t.InitStart && addr < t.InitEnd {
		return true
	}
	_, ok := t.ModuleAt(addr)
	return ok
}

// Find is orc_find() (arch/x86/kernel/unwind_orc.c): the entry describing
// ip. ok is false when no table covers ip; err reports a table that could not
// be read.
func (t *Table) Find(ip uint64) (e Entry, ok bool, err error) {
	if ip == 0 {
		return nullEntry, true, nil
	}
	if t.TextEnd > t.TextStart && ip >= t.TextStart && ip < t.TextEnd {
		start, stop := uint64(0), t.Num
		if t.LookupBlocks > 1 && t.Lookup != 0 {
			idx := (ip - t.TextStart) / LookupBlockSize
			if idx >= t.LookupBlocks-1 {
				return Entry{}, false, nil
			}
			var b [8]byte
			if err := t.Mem.ReadVirt(b[:], t.Lookup+4*idx); err != nil {
				return Entry{}, false, fmt.Errorf("orc_lookup[%d]: %w", idx, err)
			}
			start = uint64(binary.LittleEndian.Uint32(b[0:]))
			stop = uint64(binary.LittleEndian.Uint32(b[4:])) + 1
			if start >= t.Num || stop > t.Num || stop < start {
				return Entry{}, false, fmt.Errorf("orc_lookup[%d]: bad range %d..%d of %d entries", idx, start, stop, t.Num)
			}
		}
		return t.search(t.IPStart+4*start, t.ORCStart+EntrySize*start, stop-start, ip)
	}
	if t.InitEnd > t.InitStart && ip >= t.InitStart && ip < t.InitEnd {
		return t.search(t.IPStart, t.ORCStart, t.Num, ip)
	}
	if m, found := t.ModuleAt(ip); found {
		if m.IP == 0 || m.ORC == 0 || m.Num == 0 {
			return Entry{}, false, nil
		}
		return t.search(m.IP, m.ORC, m.Num, ip)
	}
	return Entry{}, false, nil
}

// search is __orc_find(): a binary search for the rightmost entry whose IP
// (each int is relative to its own address) is <= ip. Like the kernel it
// returns the first entry when every entry is above ip.
func (t *Table) search(ipTable, orcTable, n, ip uint64) (Entry, bool, error) {
	if n == 0 {
		return Entry{}, false, nil
	}
	at := func(i uint64) (uint64, error) {
		v, err := vmem.ReadU32(t.Mem, ipTable+4*i)
		if err != nil {
			return 0, err
		}
		return ipTable + 4*i + uint64(int64(int32(v))), nil
	}
	var readErr error
	found := uint64(0)
	// sort.Search finds the first index whose IP is > ip.
	i := sort.Search(int(n), func(i int) bool {
		if readErr != nil {
			return true
		}
		v, err := at(uint64(i))
		if err != nil {
			readErr = err
			return true
		}
		return v > ip
	})
	if readErr != nil {
		return Entry{}, false, fmt.Errorf("orc_unwind_ip: %w", readErr)
	}
	if i > 0 {
		found = uint64(i - 1)
	}
	var b [EntrySize]byte
	if err := t.Mem.ReadVirt(b[:], orcTable+EntrySize*found); err != nil {
		return Entry{}, false, fmt.Errorf("orc_unwind[%d]: %w", found, err)
	}
	return t.Regs.toV1(DecodeEntry(b[:], t.Layout)), true, nil
}
