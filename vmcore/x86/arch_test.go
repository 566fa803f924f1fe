package x86

import (
	"encoding/binary"
	"reflect"
	"testing"

	"github.com/panicscope/panicscope/vmcore/arch"
	"github.com/panicscope/panicscope/vmcore/notes"
	"github.com/panicscope/panicscope/vmcore/vmcoreinfo"
)

// prstatus builds an x86_64 elf_prstatus whose register i holds base+i.
func prstatus(pid int32, base uint64) []byte {
	d := make([]byte, notes.PRStatusSize)
	binary.LittleEndian.PutUint32(d[32:], uint32(pid))
	for i := 0; i < notes.NumRegs; i++ {
		binary.LittleEndian.PutUint64(d[112+8*i:], base+uint64(i))
	}
	return d
}

func TestArchPRStatus(t *testing.T) {
	st, err := Arch.PRStatus(prstatus(121, 0x1000))
	if err != nil {
		t.Fatal(err)
	}
	r := st.Regs
	// user_regs_struct order: r15 (0) ... rbp (4) ... rip (16), cs (17), eflags (18), rsp (19).
	if st.PID != 121 || r.PC != 0x1010 || r.SP != 0x1013 || r.FP != 0x1004 || len(r.List) != notes.NumRegs {
		t.Fatalf("pid %d pc %#x sp %#x fp %#x, %d registers", st.PID, r.PC, r.SP, r.FP, len(r.List))
	}
	if r.List[0].Name != "rip" || r.List[1].Name != "rsp" || r.List[len(r.List)-1].Name != "orig_rax" {
		t.Errorf("order %v: want __show_regs() order", r.List)
	}
	if v, _ := r.Get("eflags"); v != 0x1012 || r.User != (0x1011&3 != 0) {
		t.Errorf("eflags %#x, user %v", v, r.User)
	}
	if _, err := Arch.PRStatus(make([]byte, 144)); err == nil {
		t.Errorf("an i386 prstatus decoded")
	}
}

func TestArchHypervisorNote(t *testing.T) {
	d := make([]byte, notes.QEMUCPUStateSizeKGS)
	binary.LittleEndian.PutUint32(d[0:], 1)
	binary.LittleEndian.PutUint32(d[4:], notes.QEMUCPUStateSizeKGS)
	binary.LittleEndian.PutUint64(d[392+3*8:], 0x2a10000) // cr[3]
	binary.LittleEndian.PutUint64(d[392+4*8:], 0x751ef0)  // cr[4]
	h, ok, err := Arch.HypervisorNote(notes.NameQEMU, notes.NT_QEMUCPU, d)
	want := []arch.Register{{Name: "cr3", Value: 0x2a10000}, {Name: "cr4", Value: 0x751ef0}}
	if !ok || err != nil || !reflect.DeepEqual(h.Control, want) {
		t.Errorf("QEMU note: %v %v %v", h, ok, err)
	}
	if _, ok, _ := Arch.HypervisorNote(notes.NameCore, notes.NT_PRSTATUS, d); ok {
		t.Errorf("a CORE note taken for a hypervisor note")
	}
	if _, ok, err := Arch.HypervisorNote(notes.NameQEMU, notes.NT_QEMUCPU, d[:100]); !ok || err == nil {
		t.Errorf("short QEMU note: %v %v", ok, err)
	}
}

func TestPtRegsRoundTrip(t *testing.T) {
	b := make([]byte, PtRegsSize)
	for i := 0; i < 21; i++ {
		binary.LittleEndian.PutUint64(b[8*i:], uint64(0x100+i))
	}
	p := DecodePtRegs(b)
	a := Arch.DecodePtRegs(b)
	if back := PtRegsFromArch(a); back != p {
		t.Errorf("round trip: %+v, want %+v", back, p)
	}
	if a.PC != p.IP || a.SP != p.SP || a.FP != p.BP || p.Words()[16] != p.IP {
		t.Errorf("roles: %+v", a)
	}
	// The CPU's registers (user_regs_struct names) give the same pt_regs.
	st, _ := Arch.PRStatus(prstatus(1, 0x100))
	if PtRegsFromArch(st.Regs) != p {
		t.Errorf("from NT_PRSTATUS: %+v, want %+v", PtRegsFromArch(st.Regs), p)
	}
	iret := DecodeIret(b[IretFrameOffset:])
	ia := iret.Arch()
	if !ia.Partial || len(ia.List) != 5 || len(Arch.RegsLines(ia)) != 2 || len(Arch.RegsLines(a)) != 7 {
		t.Errorf("iret frame: %+v", ia)
	}
}

func TestArchMatchVMCOREINFO(t *testing.T) {
	for text, want := range map[string]bool{
		"SYMBOL(init_top_pgt)=ffffffff8260a000\n":           true,
		"SYMBOL(init_level4_pgt)=ffffffff81e0a000\n":        true,
		"NUMBER(pgtable_l5_enabled)=0\n":                    true,
		"NUMBER(VA_BITS)=48\nSYMBOL(swapper_pg_dir)=ffff\n": false,
	} {
		info, err := vmcoreinfo.Parse([]byte("OSRELEASE=6.1\n" + text))
		if err != nil {
			t.Fatal(err)
		}
		if got := Arch.MatchVMCOREINFO(info); got != want {
			t.Errorf("%q: %v, want %v", text, got, want)
		}
	}
}
