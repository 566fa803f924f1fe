package vmcore_test

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/panicscope/panicscope/internal/testfixtures"
	"github.com/panicscope/panicscope/vmcore"
	"github.com/panicscope/panicscope/vmcore/arch"
)

// TestArm64Unsupported opens the arm64 fixtures (../vmcores-arm64): they
// are an "unsupported: arm64" error, not a dump read as x86_64. The QEMU
// kdump file names no machine in its header ("Unknown"): VMCOREINFO tells.
// The ELF core says EM_AARCH64 in its first bytes, so its head is enough.
func TestArm64Unsupported(t *testing.T) {
	dir := filepath.Join(testfixtures.Dir(t), "..", "vmcores-arm64")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("no arm64 fixtures: %v", err)
	}
	elfHead := filepath.Join(t.TempDir(), "head.elf")
	if in, err := os.Open(filepath.Join(dir, "kdump-arm64-6.12-elf", "vmcore.elf.zst")); err == nil {
		dec, err := zstd.NewReader(in, zstd.WithDecoderMaxWindow(1<<30))
		if err != nil {
			t.Fatal(err)
		}
		head, _ := io.ReadAll(io.LimitReader(dec, 64<<10))
		dec.Close()
		in.Close()
		if err := os.WriteFile(elfHead, head, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{filepath.Join(dir, "qemu-arm64-6.12-sysrq", "vmcore"), elfHead} {
		if _, err := os.Stat(p); err != nil {
			t.Logf("%s: %v", p, err)
			continue
		}
		d, err := vmcore.Open(p)
		if err == nil {
			d.Close()
			t.Errorf("%s: opened as %s", p, d.Arch().Name())
			continue
		}
		var ue *arch.UnsupportedError
		if !errors.As(err, &ue) || !errors.Is(err, arch.ErrUnsupported) || !strings.Contains(err.Error(), "unsupported: arm64") {
			t.Errorf("%s: %v, want an unsupported arm64 error", p, err)
		}
	}
}

// TestArchOfFixtures: every x86_64 fixture is told x86_64, and its CPUs'
// registers carry PC and SP.
func TestArchOfFixtures(t *testing.T) {
	for _, fx := range testfixtures.All(t) {
		d, err := vmcore.Open(filepath.Join(fx.Dir, "vmcore"))
		if err != nil {
			t.Errorf("%s: %v", fx.Name, err)
			continue
		}
		if d.Arch().Name() != "x86_64" {
			t.Errorf("%s: arch %s", fx.Name, d.Arch().Name())
		}
		for _, c := range d.CPUs {
			if c.HasStatus && (c.Regs.PC == 0 || c.Regs.SP == 0 || c.Regs.List[0].Name != "rip") {
				t.Errorf("%s cpu %d: registers %+v", fx.Name, c.Index, c.Regs)
			}
		}
		d.Close()
	}
}
