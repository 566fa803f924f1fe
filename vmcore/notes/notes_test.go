package notes

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

// appendNote appends one note in the Linux layout (append_elf_note in
// kernel/crash_core.c): header, NUL-terminated name and descriptor, each
// padded to 4 bytes.
func appendNote(b []byte, name string, typ uint32, desc []byte) []byte {
	namesz := len(name) + 1
	b = binary.LittleEndian.AppendUint32(b, uint32(namesz))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(desc)))
	b = binary.LittleEndian.AppendUint32(b, typ)
	b = append(b, name...)
	b = append(b, make([]byte, int(align4(uint64(namesz)))-len(name))...)
	b = append(b, desc...)
	return append(b, make([]byte, int(align4(uint64(len(desc))))-len(desc))...)
}

// testRegs has a distinct value in every register.
func testRegs() Regs {
	var a [NumRegs]uint64
	for i := range a {
		a[i] = 0x1111000000000000 + uint64(i)*0x101
	}
	return regsFromArray(&a)
}

// prstatusDesc builds a 336-byte x86_64 struct elf_prstatus.
func prstatusDesc(pid int32, r Regs) []byte {
	d := make([]byte, PRStatusSize)
	le := binary.LittleEndian
	le.PutUint32(d[0:], 11)  // si_signo
	le.PutUint16(d[12:], 11) // pr_cursig
	le.PutUint32(d[32:], uint32(pid))
	le.PutUint32(d[36:], uint32(pid-1))
	le.PutUint64(d[48:], 7)  // pr_utime.tv_sec
	le.PutUint64(d[104:], 9) // pr_cstime.tv_usec
	for i, v := range r.Array() {
		le.PutUint64(d[PRStatusRegsOffset+8*i:], v)
	}
	le.PutUint32(d[prstatusMinSize:], 1)
	return d
}

// qemuDesc builds a QEMUCPUState of the given size (432 or 440).
func qemuDesc(size int, rip, cr3, cr4, gsBase, kgs uint64) []byte {
	d := make([]byte, size)
	le := binary.LittleEndian
	le.PutUint32(d[0:], 1)
	le.PutUint32(d[4:], uint32(size))
	for i := 0; i < 16; i++ {
		le.PutUint64(d[8+8*i:], uint64(0xa0+i)) // rax..r15
	}
	le.PutUint64(d[8+16*8:], rip)
	le.PutUint64(d[8+17*8:], 0x246)
	for i := 0; i < 10; i++ { // cs ds es fs gs ss ldt tr gdt idt
		o := qemuSegmentsOffset + qemuSegmentSize*i
		le.PutUint32(d[o:], uint32(0x10+8*i))
		le.PutUint32(d[o+4:], 0xffffffff)
		le.PutUint32(d[o+8:], 0xa09b00)
		le.PutUint64(d[o+16:], uint64(0x1000*i))
	}
	le.PutUint64(d[qemuSegmentsOffset+qemuSegmentSize*4+16:], gsBase) // gs
	le.PutUint64(d[qemuCROffset+0:], 0x80050033)
	le.PutUint64(d[qemuCROffset+3*8:], cr3)
	le.PutUint64(d[qemuCROffset+4*8:], cr4)
	if size >= QEMUCPUStateSizeKGS {
		le.PutUint64(d[QEMUCPUStateSizeV1:], kgs)
	}
	return d
}

const vmcoreinfoText = "OSRELEASE=6.1.0-56-amd64\nPAGESIZE=4096\nKERNELOFFSET=200000\n"

func TestRoundTrip(t *testing.T) {
	regs := testRegs()
	var blob []byte
	blob = appendNote(blob, NameCore, NT_PRSTATUS, prstatusDesc(121, regs))
	blob = appendNote(blob, NameCore, NT_PRSTATUS, prstatusDesc(0, Regs{RIP: 0xffffffff81000000, RSP: 0xffffffff82c03e98}))
	blob = appendNote(blob, NameQEMU, NT_QEMUCPU, qemuDesc(QEMUCPUStateSizeKGS, 0xffffffff81234567, 0x2a10000, 0x751ef0, 0xffff8da787a00000, 0x7f00))
	blob = appendNote(blob, NameQEMU, NT_QEMUCPU, qemuDesc(QEMUCPUStateSizeV1, 1, 2, 0x750ef0, 3, 4))
	blob = appendNote(blob, NameVMCOREINFO, NT_VMCOREINFO, []byte(vmcoreinfoText+"\x00")) // odd length: padded
	blob = append(blob, make([]byte, 12)...)                                              // final_note()
	blob = append(blob, make([]byte, 7)...)                                               // zero padding

	ns, err := Parse(blob)
	if err != nil {
		t.Fatal(err)
	}
	if len(ns) != 5 {
		t.Fatalf("got %d notes, want 5: %+v", len(ns), ns)
	}

	ps, err := PRStatuses(ns)
	if err != nil || len(ps) != 2 {
		t.Fatalf("PRStatuses = %d, %v", len(ps), err)
	}
	p := ps[0]
	if p.Pid != 121 || p.PPid != 120 || p.Signo != 11 || p.Cursig != 11 || p.FPValid != 1 ||
		p.Utime.Sec != 7 || p.Cstime.Usec != 9 {
		t.Errorf("prstatus header fields wrong: %+v", p)
	}
	if p.Regs != regs {
		t.Errorf("regs round trip:\n got %+v\nwant %+v", p.Regs, regs)
	}
	if p.Regs.IP() != regs.RIP || p.Regs.SP() != regs.RSP || p.Regs.R15 != regs.Array()[0] || p.Regs.GS != regs.Array()[26] {
		t.Errorf("IP/SP/order wrong: %+v", p.Regs)
	}
	// user_regs_struct order, spot checks against the offsets in the kernel struct.
	if regs.RIP != 0x1111000000000000+16*0x101 || regs.RSP != 0x1111000000000000+19*0x101 {
		t.Errorf("regsFromArray order wrong: %+v", regs)
	}
	if ps[1].Pid != 0 || ps[1].Regs.IP() != 0xffffffff81000000 || ps[1].Regs.SP() != 0xffffffff82c03e98 {
		t.Errorf("second prstatus: %+v", ps[1])
	}

	qs, err := QEMUCPUs(ns)
	if err != nil || len(qs) != 2 {
		t.Fatalf("QEMUCPUStates = %d, %v", len(qs), err)
	}
	q := qs[0]
	if q.Version != 1 || q.Size != 440 || q.RIP != 0xffffffff81234567 || q.CR3 != 0x2a10000 || q.CR4 != 0x751ef0 ||
		!q.LA57() || q.GSBase() != 0xffff8da787a00000 || !q.HasKernelGSBase || q.KernelGSBase != 0x7f00 ||
		q.RAX != 0xa0 || q.R15 != 0xaf || q.RSP != 0xa6 || q.CR0 != 0x80050033 || q.RFlags != 0x246 {
		t.Errorf("QEMU state wrong: %+v", q)
	}
	if q.CS.Selector != 0x10 || q.SS.Selector != 0x10+8*5 || q.IDT.Base != 0x9000 || q.GDT.Limit != 0xffffffff || q.TR.Flags != 0xa09b00 {
		t.Errorf("QEMU segments wrong: cs %+v ss %+v idt %+v", q.CS, q.SS, q.IDT)
	}
	if r := q.Regs(); r.RIP != q.RIP || r.RSP != q.RSP || r.GSBase != q.GSBase() || r.CS != 0x10 || r.R8 != 0xa8 {
		t.Errorf("QEMU Regs() = %+v", r)
	}
	if qs[1].HasKernelGSBase || qs[1].LA57() || qs[1].Size != 432 {
		t.Errorf("432-byte QEMU state: %+v", qs[1])
	}

	if got := FindVMCOREINFO(ns); string(got) != vmcoreinfoText {
		t.Errorf("FindVMCOREINFO = %q", got)
	}
	if FindVMCOREINFO(ns[:4]) != nil {
		t.Error("FindVMCOREINFO found a note that is not there")
	}
}

func TestParseNameAndDescPadding(t *testing.T) {
	for nl := 0; nl < 9; nl++ {
		for dl := 0; dl < 9; dl++ {
			name := string(bytes.Repeat([]byte{'N'}, nl))
			desc := bytes.Repeat([]byte{0xd5}, dl)
			var blob []byte
			blob = appendNote(blob, name, 7, desc)
			blob = appendNote(blob, "second", 8, []byte{1, 2, 3})
			ns, err := Parse(blob)
			if err != nil {
				t.Fatalf("name %d desc %d: %v", nl, dl, err)
			}
			if len(ns) != 2 || ns[0].Name != name || ns[0].Type != 7 || !bytes.Equal(ns[0].Desc, desc) ||
				ns[1].Name != "second" || !bytes.Equal(ns[1].Desc, []byte{1, 2, 3}) {
				t.Fatalf("name %d desc %d: %+v", nl, dl, ns)
			}
		}
	}
}

func TestParseUnpaddedLastNote(t *testing.T) {
	blob := appendNote(nil, NameVMCOREINFO, 0, []byte("OSRELEASE=x\n")) // 12 bytes: no padding
	blob = appendNote(blob, "abc", 1, []byte{1, 2, 3, 4, 5})
	blob = blob[:len(blob)-3] // the last descriptor's padding is cut off
	ns, err := Parse(blob)
	if err != nil || len(ns) != 2 || len(ns[1].Desc) != 5 {
		t.Fatalf("Parse = %+v, %v", ns, err)
	}
}

func TestParseErrors(t *testing.T) {
	good := appendNote(nil, NameCore, NT_PRSTATUS, prstatusDesc(1, testRegs()))
	le := binary.LittleEndian
	cases := map[string][]byte{
		"namesz too big": func() []byte {
			b := bytes.Clone(good)
			le.PutUint32(b[0:], 0xffffffff)
			return b
		}(),
		"descsz too big": func() []byte {
			b := bytes.Clone(good)
			le.PutUint32(b[4:], uint32(len(b)))
			return b
		}(),
		"truncated desc": good[:len(good)-5],
		"short header":   append(bytes.Clone(good), 1, 0, 0),
		"junk header":    {5, 0, 0, 0, 0, 0, 0, 0, 1},
	}
	for name, b := range cases {
		ns, err := Parse(b)
		if err == nil || ns != nil || !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: Parse = %v, %v; want nil, ErrMalformed", name, ns, err)
		}
	}
	if ns, err := Parse(nil); err != nil || ns != nil {
		t.Errorf("Parse(nil) = %v, %v", ns, err)
	}
}

func TestDecodersRejectShortDescriptors(t *testing.T) {
	if _, err := PRStatus(make([]byte, 144)); err == nil {
		t.Error("PRStatus accepted the 144-byte i386 prstatus")
	}
	if _, err := PRStatus(make([]byte, prstatusMinSize)); err != nil {
		t.Errorf("PRStatus without pr_fpvalid: %v", err)
	}
	if _, err := QEMUCPUState(qemuDesc(QEMUCPUStateSizeV1, 0, 0, 0, 0, 0)[:QEMUCPUStateSizeV1-1]); err == nil {
		t.Error("QEMUCPUState accepted a short descriptor")
	}
	d := qemuDesc(QEMUCPUStateSizeKGS, 0, 0, 0, 0, 0)
	binary.LittleEndian.PutUint32(d, 0)
	if _, err := QEMUCPUState(d); err == nil {
		t.Error("QEMUCPUState accepted version 0")
	}
	// A size field claiming 440 with a 432-byte descriptor: no kernel_gs_base.
	d = qemuDesc(QEMUCPUStateSizeV1, 0, 0, 0, 0, 0)
	binary.LittleEndian.PutUint32(d[4:], QEMUCPUStateSizeKGS)
	if s, err := QEMUCPUState(d); err != nil || s.HasKernelGSBase {
		t.Errorf("size/len mismatch: %+v, %v", s, err)
	}
}

func FuzzParseNotes(f *testing.F) {
	var blob []byte
	blob = appendNote(blob, NameCore, NT_PRSTATUS, prstatusDesc(1, testRegs()))
	blob = appendNote(blob, NameQEMU, NT_QEMUCPU, qemuDesc(QEMUCPUStateSizeKGS, 1, 2, 3, 4, 5))
	blob = appendNote(blob, NameVMCOREINFO, NT_VMCOREINFO, []byte(vmcoreinfoText))
	f.Add(blob)
	f.Add(blob[:100])
	f.Add([]byte{})
	f.Add(make([]byte, 12))
	f.Fuzz(func(t *testing.T, data []byte) {
		ns, err := Parse(data)
		if err != nil {
			if ns != nil {
				t.Fatalf("error %v with notes %v", err, ns)
			}
			return
		}
		for _, n := range ns {
			if len(n.Desc) > len(data) || len(n.Name) > len(data) {
				t.Fatalf("note larger than input: %d/%d > %d", len(n.Name), len(n.Desc), len(data))
			}
			if p, err := PRStatus(n.Desc); (p == nil) == (err == nil) {
				t.Fatalf("PRStatus: %v, %v", p, err)
			}
			if s, err := QEMUCPUState(n.Desc); (s == nil) == (err == nil) {
				t.Fatalf("QEMUCPUState: %v, %v", s, err)
			}
		}
		_ = FindVMCOREINFO(ns)
		if ps, err := PRStatuses(ns); err != nil && ps != nil {
			t.Fatal("PRStatuses: error with result")
		}
		if qs, err := QEMUCPUs(ns); err != nil && qs != nil {
			t.Fatal("QEMUCPUStates: error with result")
		}
	})
}

func TestPRStatusRegsAnyWidth(t *testing.T) {
	// An LP64 prstatus of 34 registers (arm64's x0..x30, sp, pc, pstate).
	const n = 34
	d := make([]byte, PRStatusRegsOffset+8*n+8)
	binary.LittleEndian.PutUint32(d[32:], 165)
	for i := 0; i < n; i++ {
		binary.LittleEndian.PutUint64(d[PRStatusRegsOffset+8*i:], uint64(i)<<32|7)
	}
	c, regs, err := PRStatusRegs(d, n)
	if err != nil || c.Pid != 165 || len(regs) != n || regs[32] != 32<<32|7 {
		t.Fatalf("%+v %#x %v", c, regs, err)
	}
	for _, bad := range []struct {
		desc  []byte
		nregs int
	}{{d[:PRStatusRegsOffset+8*n-1], n}, {d, 0}, {d, -1}, {d, 1 << 20}, {nil, 1}} {
		if _, _, err := PRStatusRegs(bad.desc, bad.nregs); err == nil {
			t.Errorf("%d bytes, %d registers: no error", len(bad.desc), bad.nregs)
		}
	}
}
