package elfcore

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/panicscope/panicscope/internal/testfixtures"
	"github.com/panicscope/panicscope/vmcore/notes"
	"github.com/panicscope/panicscope/vmcore/phys"
)

func openFixture(t *testing.T, name string) (*File, *os.File) {
	t.Helper()
	p := testfixtures.Decompressed(t, filepath.Join(testfixtures.Dir(t), name, "vmcore.elf.zst"))
	fd, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fd.Close() })
	st, err := fd.Stat()
	if err != nil {
		t.Fatal(err)
	}
	f, err := Open(fd, st.Size())
	if err != nil {
		t.Fatalf("%s: %v", p, err)
	}
	return f, fd
}

// vmcoreinfoValue returns the value of key in VMCOREINFO text.
func vmcoreinfoValue(t *testing.T, text []byte, key string) string {
	t.Helper()
	for _, line := range strings.Split(string(text), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && k == key {
			return v
		}
	}
	t.Fatalf("VMCOREINFO has no %s", key)
	return ""
}

// checkUtsname reads init_uts_ns from physical memory: a kernel-image
// symbol's physical address is vaddr - __START_KERNEL_map + phys_base
// (__phys_addr_symbol in arch/x86/include/asm/page_64.h), and struct
// new_utsname starts with sysname[65], nodename[65], release[65].
func checkUtsname(t *testing.T, f *File, release string) {
	t.Helper()
	vmci := notes.FindVMCOREINFO(f.Notes())
	sym, err := strconv.ParseUint(vmcoreinfoValue(t, vmci, "SYMBOL(init_uts_ns)"), 16, 64)
	if err != nil {
		t.Fatal(err)
	}
	physBase, err := strconv.ParseInt(vmcoreinfoValue(t, vmci, "NUMBER(phys_base)"), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	off, err := strconv.ParseUint(vmcoreinfoValue(t, vmci, "OFFSET(uts_namespace.name)"), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	paddr := sym - startKernelMap + uint64(physBase) + off
	uts := make([]byte, 3*65)
	if err := f.ReadPhys(uts, paddr); err != nil {
		t.Fatalf("init_uts_ns at physical %#x: %v", paddr, err)
	}
	cstr := func(b []byte) string { return string(b[:bytes.IndexByte(append(b, 0), 0)]) }
	if cstr(uts[:65]) != "Linux" || cstr(uts[130:195]) != release {
		t.Fatalf("init_uts_ns at %#x: sysname %q release %q", paddr, cstr(uts[:65]), cstr(uts[130:195]))
	}
}

func TestFixtureQEMUELF(t *testing.T) {
	f, _ := openFixture(t, "qemu-6.1-sysrq")
	if f.Style() != StyleQEMU {
		t.Errorf("Style = %v, want qemu", f.Style())
	}
	ns := f.Notes()
	ps, err := notes.PRStatuses(ns)
	if err != nil || len(ps) != 2 {
		t.Fatalf("PRStatuses: %d, %v", len(ps), err)
	}
	qs, err := notes.QEMUCPUs(ns)
	if err != nil || len(qs) != 2 {
		t.Fatalf("QEMU notes: %d, %v", len(qs), err)
	}
	for i := range qs {
		if ps[i].Pid != int32(i+1) || qs[i].RIP != ps[i].Regs.RIP || qs[i].CR3 == 0 || qs[i].LA57() {
			t.Errorf("cpu %d: pid %d rip %#x/%#x cr3 %#x cr4 %#x", i, ps[i].Pid, ps[i].Regs.RIP, qs[i].RIP, qs[i].CR3, qs[i].CR4)
		}
	}
	vmci := notes.FindVMCOREINFO(ns)
	if !bytes.Contains(vmci, []byte("OSRELEASE=6.1.0-56-amd64\n")) {
		t.Fatalf("VMCOREINFO: %.60q", vmci)
	}
	// paging=false: physical addresses only, whole RAM blocks, nothing filtered.
	for _, s := range f.Segments() {
		if s.VAddr != s.PAddr || s.FileSize != s.MemSize {
			t.Errorf("segment %+v: vaddr != paddr or filtered", s)
		}
	}
	want := []phys.Range{{Start: 0, End: 0xa0000}, {Start: 0xc0000, End: 0x8000000},
		{Start: 0xfd000000, End: 0xfe000000}, {Start: 0xfffc0000, End: 0x100000000}}
	if got := f.Ranges(); len(got) != len(want) {
		t.Errorf("Ranges = %#v", got)
	} else {
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("Ranges[%d] = %#v, want %#v", i, got[i], want[i])
			}
		}
	}
	checkUtsname(t, f, "6.1.0-56-amd64")
	buf := make([]byte, 16)
	wantMissing(t, f.ReadPhys(buf, 0x9fff8), 0xa0000, phys.NotInDump) // VGA hole
	wantMissing(t, f.ReadPhys(buf, 0x8000000), 0x8000000, phys.NotInDump)
}

func TestFixtureKdumpELF(t *testing.T) {
	f, fd := openFixture(t, "kdump-6.1-lzo")
	if f.Style() != StyleKdump {
		t.Errorf("Style = %v, want kdump", f.Style())
	}
	ns := f.Notes()
	ps, err := notes.PRStatuses(ns)
	if err != nil || len(ps) != 2 {
		t.Fatalf("PRStatuses: %d, %v", len(ps), err)
	}
	for i, p := range ps {
		if p.Regs.IP()>>31 != 0x1ffffffff {
			t.Errorf("cpu %d: RIP %#x not in kernel text", i, p.Regs.IP())
		}
	}
	// crash_save_cpu() records current->pid: the panicking sh (pid 121) on
	// CPU 1, the idle task on CPU 0.
	if ps[0].Pid != 0 || ps[1].Pid != 121 {
		t.Errorf("pids %d, %d; want 0, 121", ps[0].Pid, ps[1].Pid)
	}
	if qs, _ := notes.QEMUCPUs(ns); len(qs) != 0 {
		t.Errorf("%d QEMU notes in a makedumpfile ELF", len(qs))
	}
	if v := notes.FindVMCOREINFO(ns); !bytes.HasPrefix(v, []byte("OSRELEASE=6.1.0-56-amd64\n")) {
		t.Fatalf("VMCOREINFO: %.60q", v)
	}

	// One kernel-text PT_LOAD per run of the kernel image, then direct-map
	// PT_LOADs; every text run's physical pages are also in a direct-map
	// segment starting at the same address (the last one runs on past the
	// end of the image), with the same data.
	var text, direct []Segment
	for _, s := range f.Segments() {
		switch {
		case s.VAddr >= startKernelMap:
			text = append(text, s)
		case s.VAddr >= kernelHalf:
			direct = append(direct, s)
		default:
			t.Errorf("segment %+v: neither kernel text nor direct map", s)
		}
		if s.FileSize > s.MemSize {
			t.Errorf("segment %+v: filesz > memsz", s)
		}
	}
	if len(text) == 0 || len(direct) == 0 {
		t.Fatalf("%d text, %d direct-map segments", len(text), len(direct))
	}
	pageOffset := direct[0].VAddr - direct[0].PAddr
	for _, s := range direct {
		if s.VAddr-s.PAddr != pageOffset {
			t.Errorf("direct-map segment %+v: not at page_offset_base %#x", s, pageOffset)
		}
	}
	for _, ts := range text {
		var twin *Segment
		for i := range direct {
			if direct[i].PAddr == ts.PAddr {
				twin = &direct[i]
			}
		}
		if twin == nil || twin.MemSize < ts.MemSize || twin.FileSize != ts.FileSize {
			t.Errorf("text segment %+v has no direct-map twin (%+v)", ts, twin)
			continue
		}
		if ts.FileSize == 0 {
			continue
		}
		n := min(ts.FileSize, 1<<16)
		a, b := make([]byte, n), make([]byte, n)
		if _, err := fd.ReadAt(a, int64(ts.Offset)); err != nil {
			t.Fatal(err)
		}
		if _, err := fd.ReadAt(b, int64(twin.Offset)); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Errorf("text segment at %#x differs from its direct-map copy", ts.PAddr)
		}
	}
	checkUtsname(t, f, "6.1.0-56-amd64")

	buf := make([]byte, 0x20)
	// A filtered tail (dump level 31) and a fully filtered segment.
	for _, s := range direct {
		if s.FileSize < s.MemSize {
			a := s.PAddr + s.FileSize
			wantMissing(t, f.ReadPhys(buf, a), a, phys.Excluded)
			if s.FileSize >= 0x10 {
				wantMissing(t, f.ReadPhys(buf, a-0x10), a, phys.Excluded)
			}
		}
	}
	wantMissing(t, f.ReadPhys(buf, 0x100000), 0x100000, phys.Excluded) // p_filesz 0
	wantMissing(t, f.ReadPhys(buf, 0x20000000), 0x20000000, phys.NotInDump)
	wantMissing(t, f.ReadPhys(buf, 0), 0, phys.NotInDump) // page 0 is not in /proc/vmcore
	var data uint64
	for _, r := range f.Ranges() {
		data += r.End - r.Start
	}
	t.Logf("kdump ELF: %d text + %d direct-map PT_LOADs, %d MiB of physical memory with data", len(text), len(direct), data>>20)
}

// TestFixtureNotesMatchDiskdump: the same crash, written by makedumpfile as
// ELF and as kdump-compressed, carries the same notes (the kdump file keeps
// them at kdump_sub_header.offset_note, makedumpfile diskdump_mod.h).
func TestFixtureNotesMatchDiskdump(t *testing.T) {
	f, _ := openFixture(t, "kdump-6.1-lzo")
	data, err := os.ReadFile(filepath.Join(testfixtures.Dir(t), "kdump-6.1-lzo", "vmcore"))
	if err != nil {
		t.Skip(err)
	}
	le := binary.LittleEndian
	if len(data) < 8192 || string(data[:8]) != "KDUMP   " {
		t.Fatal("not a kdump-compressed file")
	}
	blockSize := uint64(le.Uint32(data[428:])) // disk_dump_header.block_size
	sub := data[blockSize:]
	off, size := le.Uint64(sub[48:]), le.Uint64(sub[56:])
	if off+size > uint64(len(data)) {
		t.Fatalf("offset_note %#x size %#x beyond the file", off, size)
	}
	dn, err := notes.Parse(data[off : off+size])
	if err != nil {
		t.Fatal(err)
	}
	en := f.Notes()
	if len(dn) != len(en) {
		t.Fatalf("%d notes in the kdump file, %d in the ELF", len(dn), len(en))
	}
	for i := range dn {
		if dn[i].Name != en[i].Name || dn[i].Type != en[i].Type || !bytes.Equal(dn[i].Desc, en[i].Desc) {
			t.Errorf("note %d differs: %q/%d vs %q/%d", i, dn[i].Name, dn[i].Type, en[i].Name, en[i].Type)
		}
	}
}
