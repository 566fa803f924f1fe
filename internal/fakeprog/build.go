package fakeprog

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// --- ORC ----------------------------------------------------------------

// orcEntry is one struct orc_entry (arch/x86/include/asm/orc_types.h).
type orcEntry struct {
	spOffset, bpOffset int16
	spReg, bpReg       uint8
	kind               orcKind
}

type orcKind int

const (
	orcKindCall orcKind = iota
	orcKindRegs
	orcKindEnd
	orcKindUndefined
)

const (
	orcRegUndefined = 0
	orcRegPrevSP    = 1
	orcRegBP        = 4
	orcRegSP        = 5
	orcRegSPIndir   = 9
)

var (
	// orcCall: the return address is at SP (sp_offset 8 from the CFA).
	orcCall = orcEntry{spOffset: 8, spReg: orcRegSP, kind: orcKindCall}
	// orcRegs: UNWIND_HINT_REGS, a struct pt_regs at SP (entry code).
	orcRegs = orcEntry{spReg: orcRegSP, kind: orcKindRegs}
	// orcIndirect: after call_on_irqstack() switched stacks, the previous
	// SP is the word at SP (ORC_REG_SP_INDIRECT, sp_offset 8).
	orcIndirect = orcEntry{spOffset: 8, spReg: orcRegSPIndir, kind: orcKindCall}
	// orcFP: a frame-pointer frame after the prologue (push %rbp; mov
	// %rsp,%rbp): CFA = BP+16, the caller's BP saved at CFA-16.
	orcFP        = orcEntry{spOffset: 16, spReg: orcRegBP, bpOffset: -16, bpReg: orcRegPrevSP, kind: orcKindCall}
	orcEnd       = orcEntry{spReg: orcRegUndefined, kind: orcKindEnd}
	orcUndefined = orcEntry{spReg: orcRegUndefined, kind: orcKindUndefined}
)

type orcAt struct {
	ip uint64
	e  orcEntry
}

// encode writes the entry in the pre-6.3 layout (sp_reg:4 bp_reg:4
// type:2 end:1; end-of-stack and holes have sp_reg undefined), or with v3
// in the 6.4+ one (type:3 with UNDEFINED 0, END_OF_STACK 1, CALL 2, REGS 3,
// signal:1).
func (e orcEntry) encode(v3 bool) []byte {
	b := make([]byte, 6)
	binary.LittleEndian.PutUint16(b[0:], uint16(e.spOffset))
	binary.LittleEndian.PutUint16(b[2:], uint16(e.bpOffset))
	f := uint16(e.spReg&0xf) | uint16(e.bpReg&0xf)<<4
	switch {
	case v3:
		f |= map[orcKind]uint16{orcKindUndefined: 0, orcKindEnd: 1, orcKindCall: 2, orcKindRegs: 3}[e.kind] << 8
		if e.kind == orcKindRegs {
			f |= 1 << 11
		}
	case e.kind == orcKindRegs:
		f |= 1 << 8
	case e.kind == orcKindEnd:
		f |= 1 << 10
	}
	binary.LittleEndian.PutUint16(b[4:], f)
	return b
}

// orcTables writes an .orc_unwind_ip / .orc_unwind pair for entries
// (sorted here) at ipTab and orcTab, allocated by alloc.
func (k *Kernel) orcTables(entries []orcAt, alloc func(size, align uint64) uint64) (ipTab, orcTab uint64) {
	sort.SliceStable(entries, func(i, j int) bool { return entries[i].ip < entries[j].ip })
	n := uint64(len(entries))
	ipTab = alloc(4*n, 4)
	orcTab = alloc(6*n, 4)
	for i, x := range entries {
		slot := ipTab + 4*uint64(i)
		k.PutU32(slot, uint32(int32(int64(x.ip-slot))))
		k.Write(orcTab+6*uint64(i), x.e.encode(k.ORCv3))
	}
	return ipTab, orcTab
}

// writeORC lays out .orc_unwind_ip (s32 offsets relative to each slot)
// and .orc_unwind, with the terminator entry at _etext that
// scripts/sorttable / objtool leave (an undefined entry).
func (k *Kernel) writeORC(etext uint64) {
	entries := append([]orcAt(nil), k.orc...)
	entries = append(entries, orcAt{ip: etext, e: orcUndefined})
	n := uint64(len(entries))
	ipTab, orcTab := k.orcTables(entries, k.rodata)
	k.AddSymbol(Symbol{Name: "__start_orc_unwind_ip", Addr: ipTab, Type: 'D'})
	k.AddSymbol(Symbol{Name: "__stop_orc_unwind_ip", Addr: ipTab + 4*n, Type: 'D'})
	k.AddSymbol(Symbol{Name: "__start_orc_unwind", Addr: orcTab, Type: 'D'})
	k.AddSymbol(Symbol{Name: "__stop_orc_unwind", Addr: orcTab + 6*n, Type: 'D'})
}

// writeModuleORC fills struct module.arch (mod_arch_specific: num_orcs,
// orc_unwind_ip, orc_unwind) with a table for the module's functions.
func (k *Kernel) writeModuleORC(m *Module) {
	var entries []orcAt
	for _, a := range m.funcs {
		entries = append(entries, orcAt{ip: a, e: orcCall})
	}
	entries = append(entries, orcAt{ip: m.Base + m.Size, e: orcUndefined})
	ipTab, orcTab := k.orcTables(entries, k.Alloc)
	const mt = "struct module"
	n := uint64(len(entries))
	if m.ORCCount != 0 {
		n = m.ORCCount
	}
	k.Set(m.Addr, mt, "arch.num_orcs", n)
	k.Set(m.Addr, mt, "arch.orc_unwind_ip", ipTab)
	k.Set(m.Addr, mt, "arch.orc_unwind", orcTab)
}

// --- kallsyms -------------------------------------------------------------

// writeKallsyms lays out the kallsyms tables of scripts/kallsyms.c with
// absolute addresses (kallsyms_addresses, !CONFIG_KALLSYMS_BASE_RELATIVE)
// and a token table in which every byte stands for itself (no
// compression: kallsyms_expand_symbol() reads it the same way). It
// returns the VMCOREINFO lines crash_save_vmcoreinfo_init() writes for
// them (6.0+).
func (k *Kernel) writeKallsyms() []string {
	syms := k.Symbols()
	n := uint64(len(syms))
	addrs := k.rodata(8*n, 8)
	for i, s := range syms {
		k.PutU64(addrs+8*uint64(i), s.Addr)
	}
	num := k.rodata(4, 4)
	k.PutU32(num, uint32(n))
	var names []byte
	for _, s := range syms {
		e := append([]byte{s.Type}, s.Name...)
		if len(e) > 0x7f {
			panic("fakeprog: symbol name too long: " + s.Name)
		}
		names = append(append(names, byte(len(e))), e...)
	}
	namesAt := k.rodata(uint64(len(names)), 8)
	k.Write(namesAt, names)
	table := make([]byte, 0, 512)
	index := make([]byte, 0, 512)
	for c := 0; c < 256; c++ {
		index = binary.LittleEndian.AppendUint16(index, uint16(len(table)))
		table = append(table, byte(c), 0)
	}
	tableAt := k.rodata(uint64(len(table)), 8)
	k.Write(tableAt, table)
	indexAt := k.rodata(uint64(len(index)), 8)
	k.Write(indexAt, index)
	return []string{
		fmt.Sprintf("SYMBOL(kallsyms_names)=%x", namesAt),
		fmt.Sprintf("SYMBOL(kallsyms_num_syms)=%x", num),
		fmt.Sprintf("SYMBOL(kallsyms_token_table)=%x", tableAt),
		fmt.Sprintf("SYMBOL(kallsyms_token_index)=%x", indexAt),
		fmt.Sprintf("SYMBOL(kallsyms_addresses)=%x", addrs),
	}
}

// --- the dump ---------------------------------------------------------------

// SystemMap is the System.map of the fake kernel (after WriteFile, or
// calling it builds the kernel).
func (k *Kernel) SystemMap() string {
	k.finish()
	var b strings.Builder
	for _, s := range k.Symbols() {
		fmt.Fprintf(&b, "%016x %c %s\n", s.Addr, s.Type, s.Name)
	}
	return b.String()
}

// finish lays out everything that depends on the full symbol set.
func (k *Kernel) finish() {
	if k.built {
		return
	}
	k.writeUTS()
	if k.log != nil {
		k.writeLog()
	}
	etext := KernelMap + alignUp(k.textNext, 16)
	k.AddSymbol(Symbol{Name: "_etext", Addr: etext, Type: 'T'})
	if !k.NoORC {
		k.writeORC(etext)
		for _, m := range k.mods {
			k.writeModuleORC(m)
		}
		if k.ORCv3 {
			k.declareORCv3()
		}
	}
	if !k.NoBTF {
		blob := k.types.Marshal()
		k.btfBlob = blob
		at := k.rodata(uint64(len(blob)), 8)
		k.Write(at, blob)
		k.AddSymbol(Symbol{Name: "__start_BTF", Addr: at, Type: 'R'})
		k.AddSymbol(Symbol{Name: "__stop_BTF", Addr: at + uint64(len(blob)), Type: 'R'})
		k.writeModuleBTF(blob)
	}
	k.built = true
	k.kallsymsInfo = k.writeKallsyms()
	if k.VMCOREINFOInMemory {
		// vmcoreinfo_data: the page crash_save_vmcoreinfo_init() fills at
		// boot (kernel/crash_core.c), without the CRASHTIME added at crash.
		text := k.VMCOREINFO()
		if k.CrashTime != 0 {
			text = strings.TrimSuffix(text, fmt.Sprintf("CRASHTIME=%d\n", k.CrashTime))
		}
		pa := k.AllocPhys(PageSize, PageSize)
		k.WritePhys(pa, append([]byte(text), make([]byte, PageSize-len(text))...))
	}
}

// VMCOREINFO is the text of the VMCOREINFO note.
func (k *Kernel) VMCOREINFO() string {
	k.finish()
	var b strings.Builder
	fmt.Fprintf(&b, "OSRELEASE=%s\nBUILD-ID=%s\nPAGESIZE=%d\n", k.Release, k.BuildID, PageSize)
	fmt.Fprintf(&b, "SYMBOL(init_uts_ns)=%x\nOFFSET(uts_namespace.name)=%d\n", k.Sym("init_uts_ns"), utsOffset)
	fmt.Fprintf(&b, "SYMBOL(_stext)=%x\n", k.Sym("_stext"))
	if !k.NoKallsymsInfo {
		for _, l := range k.kallsymsInfo {
			b.WriteString(l + "\n")
		}
	}
	if k.log != nil {
		b.WriteString(k.log.vmcoreinfo)
	}
	// arch_crash_save_vmcoreinfo() (arch/x86/kernel/machine_kexec_64.c).
	fmt.Fprintf(&b, "NUMBER(pgtable_l5_enabled)=0\nNUMBER(phys_base)=0\nSYMBOL(init_top_pgt)=%x\n", k.Sym("init_top_pgt"))
	b.WriteString("KERNELOFFSET=0\nNUMBER(KERNEL_IMAGE_SIZE)=1073741824\n")
	for _, l := range k.ExtraInfo {
		b.WriteString(l + "\n")
	}
	if k.CrashTime != 0 {
		fmt.Fprintf(&b, "CRASHTIME=%d\n", k.CrashTime)
	}
	return b.String()
}

func note(name string, typ uint32, desc []byte) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, [3]uint32{uint32(len(name) + 1), uint32(len(desc)), typ})
	b.WriteString(name)
	b.WriteByte(0)
	for b.Len()%4 != 0 {
		b.WriteByte(0)
	}
	b.Write(desc)
	for b.Len()%4 != 0 {
		b.WriteByte(0)
	}
	return b.Bytes()
}

// prstatus is x86_64 struct elf_prstatus (336 bytes): pr_pid at 32,
// pr_reg (struct user_regs_struct) at 112.
func prstatus(c CPU) []byte {
	d := make([]byte, 336)
	binary.LittleEndian.PutUint32(d[32:], uint32(c.PID))
	reg := func(i int, v uint64) { binary.LittleEndian.PutUint64(d[112+8*i:], v) }
	reg(4, c.Regs.BP)
	reg(16, c.Regs.IP)
	reg(17, 0x10) // __KERNEL_CS
	reg(18, 0x246)
	reg(19, c.Regs.SP)
	reg(20, 0x18) // __KERNEL_DS
	return d
}

// qemuCPUState is QEMU's struct QEMUCPUState (target/i386/arch_dump.c,
// version 1 with kernel_gs_base: 440 bytes): GPRs, rip, rflags, ten
// segment caches, cr[5].
func qemuCPUState(c CPU, cr3 uint64) []byte {
	d := make([]byte, 440)
	le := binary.LittleEndian
	le.PutUint32(d[0:], 1)
	le.PutUint32(d[4:], 440)
	le.PutUint64(d[8+6*8:], c.Regs.SP)
	le.PutUint64(d[8+7*8:], c.Regs.BP)
	le.PutUint64(d[8+16*8:], c.Regs.IP)
	le.PutUint64(d[8+17*8:], 0x246)
	const cr = 8 + 18*8 + 10*24
	le.PutUint64(d[cr:], 0x80050033)
	le.PutUint64(d[cr+3*8:], cr3)
	le.PutUint64(d[cr+4*8:], 0x3406f0)
	return d
}

// Bytes is the dump as a kdump-style ELF core: a PT_NOTE with one
// NT_PRSTATUS per CPU given to SetCPU (in CPU order: readers number CPUs
// by note order) and the VMCOREINFO note, then one PT_LOAD per run of
// written pages, with p_vaddr in the direct map as /proc/vmcore has it.
func (k *Kernel) Bytes() []byte {
	k.finish()
	var notes []byte
	for _, c := range k.cpus {
		if c.Saved {
			notes = append(notes, note("CORE", 1, prstatus(c))...)
		}
	}
	if k.Hypervisor {
		for _, c := range k.cpus {
			if c.Saved {
				notes = append(notes, note("QEMU", 0, qemuCPUState(c, k.physOf(k.Sym("init_top_pgt"))))...)
			}
		}
	}
	if !k.NoVMCOREINFO {
		notes = append(notes, note("VMCOREINFO", 0, []byte(k.VMCOREINFO()))...)
	}
	var segs []segment
	for _, r := range k.runs() {
		segs = append(segs, segment{vaddr: PageOffset + r.first*PageSize, run: r})
	}
	return k.elf(notes, segs)
}

// KcoreBytes is the kernel as /proc/kcore shows it (fs/proc/kcore.c): the
// VMCOREINFO note and PT_LOADs with virtual addresses, the direct map
// (KCORE_RAM) and the kernel image (KCORE_TEXT) both with p_paddr.
func (k *Kernel) KcoreBytes() []byte {
	k.finish()
	notes := note("CORE", 1, make([]byte, 336))
	notes = append(notes, note("VMCOREINFO", 0, []byte(k.VMCOREINFO()))...)
	var segs []segment
	for _, r := range k.runs() {
		segs = append(segs, segment{vaddr: PageOffset + r.first*PageSize, run: r})
		pa := r.first * PageSize
		switch {
		case pa < heapPhys:
			segs = append(segs, segment{vaddr: KernelMap + pa, run: r})
		case pa >= k.modPhys && pa < k.modPhys+moduleAreaSize:
			// KCORE_VMALLOC: no physical address.
			segs = append(segs, segment{vaddr: moduleArea + pa - k.modPhys, run: r, noPhys: true})
		}
	}
	return k.elf(notes, segs)
}

type run struct{ first, n uint64 }

type segment struct {
	vaddr  uint64
	run    run
	noPhys bool
}

// runs are the written pages as runs of consecutive page frames.
func (k *Kernel) runs() []run {
	pfns := make([]uint64, 0, len(k.pages))
	for p := range k.pages {
		pfns = append(pfns, p)
	}
	sort.Slice(pfns, func(i, j int) bool { return pfns[i] < pfns[j] })
	var runs []run
	for _, p := range pfns {
		// Runs end where the image, module area and heap meet, so that each
		// lies in one kernel mapping.
		boundary := p*PageSize == heapPhys || p*PageSize == k.modPhys+moduleAreaSize
		if l := len(runs); l > 0 && runs[l-1].first+runs[l-1].n == p && !boundary {
			runs[l-1].n++
			continue
		}
		runs = append(runs, run{p, 1})
	}
	return runs
}

func (k *Kernel) elf(notes []byte, segs []segment) []byte {
	le := binary.LittleEndian
	nph := 1 + len(segs)
	hdr := make([]byte, 64+56*nph)
	copy(hdr, "\x7fELF\x02\x01\x01")
	le.PutUint16(hdr[16:], 4)  // ET_CORE
	le.PutUint16(hdr[18:], 62) // EM_X86_64
	le.PutUint32(hdr[20:], 1)
	le.PutUint64(hdr[32:], 64)
	le.PutUint16(hdr[52:], 64)
	le.PutUint16(hdr[54:], 56)
	le.PutUint16(hdr[56:], uint16(nph))
	ph := func(i int, typ uint32, off, vaddr, paddr, size uint64) {
		p := hdr[64+56*i:]
		le.PutUint32(p[0:], typ)
		le.PutUint32(p[4:], 7)
		le.PutUint64(p[8:], off)
		le.PutUint64(p[16:], vaddr)
		le.PutUint64(p[24:], paddr)
		le.PutUint64(p[32:], size)
		le.PutUint64(p[40:], size)
	}
	off := uint64(len(hdr))
	ph(0, 4, off, 0, 0, uint64(len(notes)))
	off = alignUp(off+uint64(len(notes)), PageSize)
	body := make([]byte, 0, off)
	for i, s := range segs {
		paddr := s.run.first * PageSize
		if s.noPhys {
			paddr = ^uint64(0)
		}
		ph(1+i, 1, off, s.vaddr, paddr, s.run.n*PageSize)
		for p := s.run.first; p < s.run.first+s.run.n; p++ {
			body = append(body, k.pages[p]...)
		}
		off += s.run.n * PageSize
	}
	out := append(hdr, notes...)
	out = append(out, make([]byte, alignUp(uint64(len(out)), PageSize)-uint64(len(out)))...)
	return append(out, body...)
}

// WriteLiveTree writes a fake root for live mode (target.Options.LiveRoot):
// proc/kcore, proc/kallsyms (runtime addresses, module symbols with their
// module), sys/kernel/btf/vmlinux, and the extra files given by path
// relative to root ("proc/sys/kernel/panic": "10\n").
func (k *Kernel) WriteLiveTree(root string, extra map[string]string) error {
	k.finish()
	var ks strings.Builder
	for _, s := range k.Symbols() {
		fmt.Fprintf(&ks, "%016x %c %s\n", s.Addr, s.Type, s.Name)
	}
	for _, m := range k.mods {
		names := make([]string, 0, len(m.funcs))
		for n := range m.funcs {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			fmt.Fprintf(&ks, "%016x t %s\t[%s]\n", m.funcs[n], n, m.Name)
		}
	}
	files := map[string][]byte{
		"proc/kcore":    k.KcoreBytes(),
		"proc/kallsyms": []byte(ks.String()),
	}
	if k.btfBlob != nil {
		files["sys/kernel/btf/vmlinux"] = k.btfBlob
	}
	for p, v := range extra {
		files[p] = []byte(v)
	}
	for p, data := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(full, data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// WriteFile writes the dump to path.
func (k *Kernel) WriteFile(path string) error {
	return os.WriteFile(path, k.Bytes(), 0o644)
}
