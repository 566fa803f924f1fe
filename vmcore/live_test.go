package vmcore

import (
	"encoding/binary"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/panicscope/panicscope/vmcore/kcore"
)

// buildKcore writes an ELF64 core laid out like /proc/kcore: a PT_NOTE, then
// PT_LOADs by kernel virtual address (paddr ^0 for vmalloc-like ones).
func buildKcore(noteBlob []byte, segs [][3]any) []byte {
	return buildKcoreFor(62, noteBlob, segs) // EM_X86_64
}

func buildKcoreFor(machine uint16, noteBlob []byte, segs [][3]any) []byte {
	le := binary.LittleEndian
	nph := len(segs) + 1
	eh := make([]byte, 64)
	copy(eh, "\x7fELF")
	eh[4], eh[5], eh[6] = 2, 1, 1
	le.PutUint16(eh[16:], 4) // ET_CORE
	le.PutUint16(eh[18:], machine)
	le.PutUint64(eh[32:], 64)
	le.PutUint16(eh[54:], 56)
	le.PutUint16(eh[56:], uint16(nph))
	off := uint64(64 + 56*nph)
	var phs, body []byte
	ph := func(typ uint32, offset, vaddr, paddr, size uint64) {
		p := make([]byte, 56)
		le.PutUint32(p[0:], typ)
		le.PutUint64(p[8:], offset)
		le.PutUint64(p[16:], vaddr)
		le.PutUint64(p[24:], paddr)
		le.PutUint64(p[32:], size)
		le.PutUint64(p[40:], size)
		phs = append(phs, p...)
	}
	ph(4, off, 0, 0, uint64(len(noteBlob)))
	body = append(body, noteBlob...)
	off += uint64(len(noteBlob))
	for _, s := range segs {
		data := s[2].([]byte)
		ph(1, off, s[0].(uint64), s[1].(uint64), uint64(len(data)))
		body = append(body, data...)
		off += uint64(len(data))
	}
	return append(append(eh, phs...), body...)
}

func elfNote(name string, typ uint32, desc []byte) []byte {
	le := binary.LittleEndian
	b := make([]byte, 12)
	le.PutUint32(b[0:], uint32(len(name)+1))
	le.PutUint32(b[4:], uint32(len(desc)))
	le.PutUint32(b[8:], typ)
	b = append(append(b, name...), 0)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	b = append(b, desc...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func writeTemp(t *testing.T, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "kcore")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestOpenLiveSynthetic(t *testing.T) {
	const text = 0xffffffff9a000000
	info := "OSRELEASE=6.1.0-56-amd64\nPAGESIZE=4096\nSYMBOL(init_uts_ns)=ffffffff9a000100\nOFFSET(uts_namespace.name)=0\n"
	mem := make([]byte, 4096)
	for i, s := range []string{"Linux", "guest", "6.1.0-56-amd64", "#1 SMP PREEMPT_DYNAMIC Debian 6.1.192-2", "x86_64"} {
		copy(mem[0x100+i*65:], s)
	}
	img := buildKcore(append(elfNote("CORE", 1, make([]byte, 336)), elfNote("VMCOREINFO", 0, []byte(info))...),
		[][3]any{{uint64(text), uint64(0x1a000000), mem}, {uint64(0xffffb00000000000), kcore.NoPAddr, make([]byte, 4096)}})
	d, err := OpenLive(writeTemp(t, img))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.Format != FormatLive || !d.Live() || d.InfoSource != InfoFromKcore {
		t.Errorf("format %q live %v info source %q", d.Format, d.Live(), d.InfoSource)
	}
	if d.VMCOREINFO() == nil || d.VMCOREINFO().OSRelease() != "6.1.0-56-amd64" {
		t.Fatalf("VMCOREINFO not read from the note")
	}
	if len(d.CPUs) != 0 {
		t.Errorf("CPUs from kcore's zeroed NT_PRSTATUS: %+v", d.CPUs)
	}
	uts, err := d.UTSName()
	if err != nil {
		t.Fatal(err)
	}
	if uts.Nodename != "guest" || !strings.Contains(uts.Version, "6.1.192") {
		t.Errorf("utsname through kcore: %+v", uts)
	}
	if len(d.KcoreSegments()) != 2 {
		t.Errorf("segments: %+v", d.KcoreSegments())
	}
	// Not covered by any segment: a fault, not zeros.
	if err := d.ReadVirt(make([]byte, 8), 0xffff888000000000); err == nil {
		t.Error("read outside every segment succeeded")
	}
}

// TestOpenLiveArm64: an arm64 /proc/kcore (EM_AARCH64) is read as
// aarch64, its utsname through kcore's own virtual segments.
func TestOpenLiveArm64(t *testing.T) {
	const text = 0xffffc728ece00000
	info := "OSRELEASE=6.12.118+deb13-arm64\nPAGESIZE=4096\nSYMBOL(init_uts_ns)=ffffc728ece00100\nOFFSET(uts_namespace.name)=0\n" +
		"NUMBER(VA_BITS)=52\nNUMBER(kimage_voffset)=0xffffc728acc00000\nNUMBER(PHYS_OFFSET)=0xfff1000040000000\n" +
		"NUMBER(TCR_EL1_T1SZ)=0x10\nSYMBOL(swapper_pg_dir)=ffffc728eeb3a000\n"
	mem := make([]byte, 4096)
	for i, s := range []string{"Linux", "arm", "6.12.118+deb13-arm64", "#1 SMP Debian 6.12.118-1", "aarch64"} {
		copy(mem[0x100+i*65:], s)
	}
	img := buildKcoreFor(183, elfNote("VMCOREINFO", 0, []byte(info)), [][3]any{{uint64(text), uint64(0x42200000), mem}})
	d, err := OpenLive(writeTemp(t, img))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	uts, err := d.UTSName()
	if d.Arch().Name() != "aarch64" || err != nil || uts.Machine != "aarch64" {
		t.Errorf("arch %s, utsname %+v, %v", d.Arch().Name(), uts, err)
	}
	if tr := d.Translator(); tr == nil || tr.Layout().VABits != 48 {
		t.Errorf("translator %v", tr)
	}
}

func TestOpenLiveErrors(t *testing.T) {
	dir := t.TempDir()
	noInfo := writeTemp(t, buildKcore(elfNote("CORE", 1, make([]byte, 336)), [][3]any{{uint64(0xffffffff9a000000), uint64(0), make([]byte, 64)}}))
	cases := []struct {
		name, path string
		want       []string
	}{
		{"missing", filepath.Join(dir, "nope"), []string{filepath.Join(dir, "nope"), "no such file or directory"}},
		{"directory", dir, []string{"cannot read " + dir, "is a directory"}},
		{"empty", writeTemp(t, nil), []string{"the file is empty", "masked"}},
		{"no vmcoreinfo", noInfo, []string{"no VMCOREINFO note", "4.19"}},
	}
	for _, c := range cases {
		d, err := OpenLive(c.path)
		if err == nil {
			d.Close()
			t.Errorf("%s: no error", c.name)
			continue
		}
		var le *LiveFileError
		if !errors.As(err, &le) || le.Path != c.path {
			t.Errorf("%s: %v is not a LiveFileError for %s", c.name, err, c.path)
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q does not say %q", c.name, err, w)
			}
		}
	}
}

// Without root /proc/kcore (mode 0400) fails with EACCES; as root permission
// bits are not checked, so the error is built from the errno directly too.
func TestOpenLiveWithoutRoot(t *testing.T) {
	err := LiveReadError("/proc/kcore", &fs.PathError{Op: "open", Path: "/proc/kcore", Err: syscall.EACCES})
	want := "cannot read /proc/kcore: open: permission denied (live mode needs root)"
	if err.Error() != want {
		t.Errorf("EACCES: %q, want %q", err, want)
	}
	if !errors.Is(err, fs.ErrPermission) {
		t.Error("the error does not wrap fs.ErrPermission")
	}
	err = LiveReadError("/proc/kcore", &fs.PathError{Op: "open", Path: "/proc/kcore", Err: syscall.EPERM})
	if !strings.Contains(err.Error(), "operation not permitted") || !strings.Contains(err.Error(), "lockdown") {
		t.Errorf("EPERM: %q", err)
	}
	err = LiveReadError("/proc/kcore", &fs.PathError{Op: "open", Path: "/proc/kcore", Err: syscall.ENOENT})
	if !strings.Contains(err.Error(), "CONFIG_PROC_KCORE") {
		t.Errorf("ENOENT: %q", err)
	}

	p := writeTemp(t, []byte("x"))
	if err := os.Chmod(p, 0); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		t.Logf("running as root: an unreadable file reads anyway; checked the EACCES message above")
		return
	}
	_, err = OpenLive(p)
	if err == nil || !strings.Contains(err.Error(), "cannot read "+p+": open: permission denied (live mode needs root)") {
		t.Errorf("unreadable file: %v", err)
	}
}
