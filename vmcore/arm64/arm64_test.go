package arm64

import (
	"debug/elf"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/panicscope/panicscope/vmcore/arch"
	"github.com/panicscope/panicscope/vmcore/notes"
	"github.com/panicscope/panicscope/vmcore/x86"
)

// prstatus builds an arm64 NT_PRSTATUS descriptor: pid at offset 32,
// regs[i] = 0x1000+i, then sp, pc, pstate.
func prstatus(pid int32, sp, pc, pstate uint64) []byte {
	b := make([]byte, PRStatusSize)
	binary.LittleEndian.PutUint32(b[32:], uint32(pid))
	for i := range 31 {
		binary.LittleEndian.PutUint64(b[notes.PRStatusRegsOffset+8*i:], 0x1000+uint64(i))
	}
	binary.LittleEndian.PutUint64(b[notes.PRStatusRegsOffset+8*31:], sp)
	binary.LittleEndian.PutUint64(b[notes.PRStatusRegsOffset+8*32:], pc)
	binary.LittleEndian.PutUint64(b[notes.PRStatusRegsOffset+8*33:], pstate)
	return b
}

func TestPRStatus(t *testing.T) {
	if PRStatusSize != 392 { // sizeof(struct elf_prstatus) on arm64, as the fixtures' notes are
		t.Fatalf("PRStatusSize %d", PRStatusSize)
	}
	st, err := Arch.PRStatus(prstatus(165, 0xffff800080503970, 0xffffc857563bec2c, 0x60400005))
	if err != nil {
		t.Fatal(err)
	}
	r := st.Regs
	if st.PID != 165 || r.PC != 0xffffc857563bec2c || r.SP != 0xffff800080503970 || r.FP != 0x1000+29 || r.User {
		t.Errorf("%+v", st)
	}
	if v, _ := r.Get("lr"); v != 0x1000+30 {
		t.Errorf("lr %#x", v)
	}
	if v, _ := r.Get("x0"); v != 0x1000 {
		t.Errorf("x0 %#x", v)
	}
	names := []string{}
	for _, x := range r.List[:6] {
		names = append(names, x.Name)
	}
	if strings.Join(names, " ") != "pc lr sp pstate x29 x28" || len(r.List) != 34 {
		t.Errorf("order %v (%d registers)", names, len(r.List))
	}
	if w := Words(r); w[32] != r.PC || w[31] != r.SP || w[30] != 0x1000+30 || w[33] != 0x60400005 || w[7] != 0x1007 {
		t.Errorf("Words %#x", w)
	}
	// EL0t and AArch32 contexts are user mode.
	for _, ps := range []uint64{0x80001000, 0x10} {
		if st, _ := Arch.PRStatus(prstatus(1, 0xfffff1fab430, 0x41e5c0, ps)); !st.Regs.User {
			t.Errorf("pstate %#x not user", ps)
		}
	}
	if _, err := Arch.PRStatus(make([]byte, 336)); err == nil {
		t.Error("x86_64-sized note accepted")
	}
	lines := Arch.RegsLines(r)
	if lines[0] != "pc : ffffc857563bec2c" || !strings.HasPrefix(lines[3], "x29: 000000000000101d x28: 000000000000101c x27:") ||
		!strings.HasPrefix(lines[len(lines)-1], "x2 : 0000000000001002 x1 : 0000000000001001 x0 : 0000000000001000") {
		t.Errorf("lines %q", lines)
	}
}

func TestDecodePtRegs(t *testing.T) {
	b := prstatus(0, 0xffff80008069b830, 0xffffc728ece26828, 0x5)[notes.PRStatusRegsOffset:]
	r := Arch.DecodePtRegs(b[:UserPtRegsSize])
	if r.PC != 0xffffc728ece26828 || r.SP != 0xffff80008069b830 || r.Partial || r.User {
		t.Errorf("%+v", r)
	}
	r = Arch.DecodePtRegs(b[:100])
	if !r.Partial || r.PC != 0 {
		t.Errorf("short image: %+v", r)
	}
}

// TestPACStrip: kernel return addresses get the PAC field set to ones,
// user ones cleared, with the dump's mask (KERNELPACMASK) or GENMASK(63,
// VA bits in use); x86_64 changes nothing.
func TestPACStrip(t *testing.T) {
	const keys = "PAGESIZE=4096\nSYMBOL(swapper_pg_dir)=ffffc728eeb3a000\nNUMBER(kimage_voffset)=0xffffc728acc00000\nNUMBER(PHYS_OFFSET)=0xfff1000040000000\n"
	translator := func(extra string) arch.Translator {
		cfg, err := ConfigFromVMCOREINFO(info(t, keys+extra))
		if err != nil {
			t.Fatal(err)
		}
		tr, err := New(newFakeMem(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		return tr
	}
	t48 := translator("NUMBER(KERNELPACMASK)=0xffff000000000000\nNUMBER(VA_BITS)=52\nNUMBER(TCR_EL1_T1SZ)=0x10\n")
	t39 := translator("NUMBER(VA_BITS)=39\n")
	cases := []struct {
		tr       arch.Translator
		in, want uint64
	}{
		{t48, 0x3bd4c728ecf67530, 0xffffc728ecf67530}, // signed kernel LR
		{t48, 0xffffc728ecf67530, 0xffffc728ecf67530}, // unsigned: unchanged
		{t48, 0x003800000041e5e0, 0x000000000041e5e0}, // user LR
		{t39, 0x5a812a4008123456, 0xffffffc008123456}, // PAC bits down to 39 (bit 55 kept)
		{t39, 0xffffffc008123456, 0xffffffc008123456},
	}
	for _, c := range cases {
		if got := c.tr.CodeAddress(c.in); got != c.want {
			t.Errorf("CodeAddress(%#x) = %#x, want %#x", c.in, got, c.want)
		}
	}
	if got := StripPAC(0x12b4ffc008123456, DefaultPACMask); got != 0xffffffc008123456 {
		t.Errorf("StripPAC with the default mask: %#x", got)
	}
	xt, err := x86.New(newFakeMem(), x86.Config{TopPGD: 0x1000, Levels: 4})
	if err != nil {
		t.Fatal(err)
	}
	if xt.CodeAddress(0x3bd4c728ecf67530) != 0x3bd4c728ecf67530 {
		t.Error("x86_64 changed an address")
	}
}

// TestDetect: with both architectures supported, an arm64 dump is told by
// its ELF machine, or, in QEMU's kdump file (machine "Unknown"), by
// VMCOREINFO; the register note size alone tells too.
func TestDetect(t *testing.T) {
	sup := []arch.Arch{x86.Arch, Arch}
	arm := info(t, "NUMBER(VA_BITS)=52\nNUMBER(kimage_voffset)=0xffffc728acc00000\n")
	for _, h := range []arch.Hints{
		{ELFMachine: elf.EM_AARCH64},
		{HeaderMachine: "Unknown", Info: arm},
		{HeaderMachine: "aarch64"},
		{PRStatusSizes: []int{392, 392}},
	} {
		a, err := arch.Detect(sup, h)
		if err != nil || a.Name() != "aarch64" {
			t.Errorf("%+v: %v, %v", h, a, err)
		}
	}
	if a, err := arch.Detect(sup, arch.Hints{HeaderMachine: "Unknown", Info: info(t, "SYMBOL(init_top_pgt)=ffffffff8260a000\n")}); err != nil || a.Name() != "x86_64" {
		t.Errorf("x86_64 VMCOREINFO: %v, %v", a, err)
	}
}

func TestHypervisorNote(t *testing.T) {
	if _, ok, _ := Arch.HypervisorNote(notes.NameCore, notes.NT_PRFPREG, make([]byte, 528)); !ok {
		t.Error("QEMU's NT_PRFPREG not recognised")
	}
	if _, ok, _ := Arch.HypervisorNote(notes.NameQEMU, notes.NT_QEMUCPU, nil); ok {
		t.Error("an x86 QEMU note recognised")
	}
}
