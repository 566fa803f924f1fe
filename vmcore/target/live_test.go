package target

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/panicscope/panicscope/vmcore"
)

// fakeKcore writes a minimal /proc/kcore: a VMCOREINFO note and one
// kernel-text PT_LOAD of zeros.
func fakeKcore(t *testing.T, path string) {
	t.Helper()
	le := binary.LittleEndian
	info := []byte("OSRELEASE=6.1.0-56-amd64\nPAGESIZE=4096\n")
	note := make([]byte, 12)
	le.PutUint32(note[0:], 11) // "VMCOREINFO\0"
	le.PutUint32(note[4:], uint32(len(info)))
	note = append(append(note, "VMCOREINFO\x00\x00"...), info...)
	for len(note)%4 != 0 {
		note = append(note, 0)
	}
	const nph = 2
	eh := make([]byte, 64)
	copy(eh, "\x7fELF")
	eh[4], eh[5], eh[6] = 2, 1, 1
	le.PutUint16(eh[16:], 4)
	le.PutUint16(eh[18:], 62)
	le.PutUint64(eh[32:], 64)
	le.PutUint16(eh[54:], 56)
	le.PutUint16(eh[56:], nph)
	off := uint64(64 + 56*nph)
	ph := func(typ uint32, offset, vaddr, paddr, size uint64) []byte {
		p := make([]byte, 56)
		le.PutUint32(p[0:], typ)
		le.PutUint64(p[8:], offset)
		le.PutUint64(p[16:], vaddr)
		le.PutUint64(p[24:], paddr)
		le.PutUint64(p[32:], size)
		le.PutUint64(p[40:], size)
		return p
	}
	img := append(eh, ph(4, off, 0, 0, uint64(len(note)))...)
	img = append(img, ph(1, off+uint64(len(note)), 0xffffffff9a000000, 0x1a000000, 4096)...)
	img = append(img, note...)
	img = append(img, make([]byte, 4096)...)
	write(t, path, string(img))
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestOpenLiveNoKcore(t *testing.T) {
	root := t.TempDir()
	_, err := OpenLive(Options{LiveRoot: root})
	var le *vmcore.LiveFileError
	if !errors.As(err, &le) || le.Path != filepath.Join(root, "/proc/kcore") || !strings.Contains(err.Error(), "no such file or directory") {
		t.Fatalf("error %v does not name %s/proc/kcore with its errno text", err, root)
	}
}

func TestOpenLiveFakeTree(t *testing.T) {
	root := t.TempDir()
	fakeKcore(t, filepath.Join(root, "proc/kcore"))
	write(t, filepath.Join(root, "proc/sys/kernel/panic"), "10\n")
	write(t, filepath.Join(root, "proc/sys/kernel/kptr_restrict"), "2\n")
	write(t, filepath.Join(root, "sys/module/kernel/parameters/crash_kexec_post_notifiers"), "Y\n")
	write(t, filepath.Join(root, "sys/devices/system/cpu/online"), "0-3\n")
	write(t, filepath.Join(root, "proc/kallsyms"), "0000000000000000 T _text\n0000000000000000 T panic\n")
	tg, err := OpenLive(Options{LiveRoot: root})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	if !tg.Dump.Live() || len(tg.Dump.CPUs) != 4 {
		t.Errorf("live %v cpus %d", tg.Dump.Live(), len(tg.Dump.CPUs))
	}
	if v, ok := tg.Live.Get("panic"); !ok || v != "10" {
		t.Errorf("panic = %q, %v", v, ok)
	}
	if v, ok := tg.Live.Get("crash_kexec_post_notifiers"); !ok || v != "Y" {
		t.Errorf("post notifiers = %q, %v", v, ok)
	}
	if _, ok := tg.Live.Get("kexec_crash_loaded"); ok {
		t.Error("a missing file reads as present")
	}
	for _, v := range tg.Live.Values {
		if v.Name == "kexec_crash_loaded" && !strings.Contains(v.Err, "sys/kernel/kexec_crash_loaded: open: no such file or directory") {
			t.Errorf("missing file error: %q", v.Err)
		}
	}
	tg.Load()
	all := fmt.Sprint(tg.Problems())
	if !strings.Contains(all, "lists every address as 0: unreadable for this user (kptr_restrict=2") {
		t.Errorf("problems do not explain the zeroed kallsyms:\n%s", all)
	}
	if tg.Syms != nil {
		t.Errorf("symbols from a zeroed kallsyms and no VMCOREINFO kallsyms: %s", tg.SymbolSource)
	}
}

func TestCPUCount(t *testing.T) {
	for in, want := range map[string]int{"0": 1, "0-1": 2, "0-3,5\n": 6, "0,2": 3} {
		if got, err := cpuCount(in); err != nil || got != want {
			t.Errorf("cpuCount(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "x", "0-y"} {
		if _, err := cpuCount(bad); err == nil {
			t.Errorf("cpuCount(%q) accepted", bad)
		}
	}
}
