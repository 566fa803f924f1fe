package vmcore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/panicscope/panicscope/vmcore/arch"
	"github.com/panicscope/panicscope/vmcore/internal/diskdump"
	"github.com/panicscope/panicscope/vmcore/notes"
)

func appendNote(b []byte, name string, typ uint32, desc []byte) []byte {
	var h [12]byte
	binary.LittleEndian.PutUint32(h[0:], uint32(len(name)+1))
	binary.LittleEndian.PutUint32(h[4:], uint32(len(desc)))
	binary.LittleEndian.PutUint32(h[8:], typ)
	b = append(b, h[:]...)
	b = append(b, name...)
	b = append(b, make([]byte, (len(name)+1+3)&^3-len(name))...)
	b = append(b, desc...)
	return append(b, make([]byte, (len(desc)+3)&^3-len(desc))...)
}

// x86 NT_PRSTATUS with pid, rip and rsp; CS is kernel mode.
func prstatusX86(pid int32, rip, rsp uint64) []byte {
	d := make([]byte, notes.PRStatusSize)
	binary.LittleEndian.PutUint32(d[32:], uint32(pid))
	regs := notes.PRStatusRegsOffset
	binary.LittleEndian.PutUint64(d[regs+16*8:], rip)
	binary.LittleEndian.PutUint64(d[regs+17*8:], 0x10)
	binary.LittleEndian.PutUint64(d[regs+19*8:], rsp)
	return d
}

func qemuNote(cr3, cr4 uint64) []byte {
	d := make([]byte, notes.QEMUCPUStateSizeKGS)
	binary.LittleEndian.PutUint32(d[0:], 1)
	binary.LittleEndian.PutUint32(d[4:], notes.QEMUCPUStateSizeKGS)
	binary.LittleEndian.PutUint64(d[392+3*8:], cr3)
	binary.LittleEndian.PutUint64(d[392+4*8:], cr4)
	return d
}

// kdumpFile writes a kdump-compressed file with one zero page, the machine
// name machine in its header and the notes given.
func kdumpFile(t *testing.T, machine string, noteBlob []byte) []byte {
	t.Helper()
	w, err := diskdump.NewWriter(diskdump.WriteOptions{MaxMapnr: 16, UTSName: diskdump.UTSName{Machine: machine}, NrCPUs: 2, Notes: noteBlob})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.AddPage(1, make([]byte, 4096)); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if _, err := w.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestOpenChoosesArchitecture(t *testing.T) {
	var blob []byte
	blob = appendNote(blob, notes.NameCore, notes.NT_PRSTATUS, prstatusX86(121, 0xffffffff81000010, 0xffffc90000003f00))
	blob = appendNote(blob, notes.NameQEMU, notes.NT_QEMUCPU, qemuNote(0x2a10000, 0x751ef0))
	blob = appendNote(blob, notes.NameQEMU, notes.NT_QEMUCPU, qemuNote(0x2b20000, 0x751ef0))
	for _, machine := range []string{"x86_64", "", "Unknown"} {
		img := kdumpFile(t, machine, blob)
		d, err := openReader(bytes.NewReader(img), int64(len(img)))
		if err != nil {
			t.Fatalf("machine %q: %v", machine, err)
		}
		if d.Arch().Name() != "x86_64" || len(d.CPUs) != 2 {
			t.Fatalf("machine %q: arch %s, %d CPUs", machine, d.Arch().Name(), len(d.CPUs))
		}
		c := d.CPUs[0]
		l := c.Regs.List
		if c.PID != 121 || !c.HasStatus || !c.HasQEMU || c.Regs.PC != 0xffffffff81000010 || c.Regs.SP != 0xffffc90000003f00 ||
			c.Regs.User || l[0].Name != "rip" || l[len(l)-2].Name != "cr3" || l[len(l)-1].Value != 0x751ef0 {
			t.Errorf("cpu 0: %+v", c)
		}
		// A QEMU note with no NT_PRSTATUS: the control registers only.
		if c := d.CPUs[1]; c.HasStatus || !c.HasQEMU || len(c.Regs.List) != 2 || c.Regs.List[0].Value != 0x2b20000 {
			t.Errorf("cpu 1: %+v", c)
		}
		// No VMCOREINFO: no translation, and reads say so.
		if d.Translator() != nil || !errors.Is(d.ReadVirt(make([]byte, 8), 0xffffffff81000000), ErrNoTranslation) {
			t.Errorf("translation without VMCOREINFO: %v", d.Translator())
		}
	}
	// arm64 is read: its header machine, its own notes.
	arm := make([]byte, 392)
	binary.LittleEndian.PutUint32(arm[32:], 156)
	binary.LittleEndian.PutUint64(arm[notes.PRStatusRegsOffset+32*8:], 0xffffc728edd05be8)
	img := kdumpFile(t, "aarch64", appendNote(nil, notes.NameCore, notes.NT_PRSTATUS, arm))
	if d, err := openReader(bytes.NewReader(img), int64(len(img))); err != nil || d.Arch().Name() != "aarch64" || len(d.CPUs) != 1 || d.CPUs[0].Regs.PC != 0xffffc728edd05be8 {
		t.Errorf("aarch64: %v", err)
	}
	for machine, n := range map[string][]byte{"riscv64": blob, "": nil, "ppc64le": blob} {
		img := kdumpFile(t, machine, n)
		_, err := openReader(bytes.NewReader(img), int64(len(img)))
		var ue *arch.UnsupportedError
		if !errors.As(err, &ue) {
			t.Errorf("machine %q, %d note bytes: %v, want an *arch.UnsupportedError", machine, len(n), err)
		}
	}
}

func TestOpenELFMachine(t *testing.T) {
	// An ELF64 little-endian core header of another machine is refused
	// before the core is read.
	img := make([]byte, 64)
	copy(img, "\x7fELF\x02\x01\x01")
	binary.LittleEndian.PutUint16(img[16:], 4)   // ET_CORE
	binary.LittleEndian.PutUint16(img[18:], 243) // EM_RISCV
	_, err := openReader(bytes.NewReader(img), int64(len(img)))
	if !errors.Is(err, arch.ErrUnsupported) {
		t.Errorf("EM_RISCV: %v", err)
	}
}
