package vmcore_test

import (
	"bytes"
	"encoding/binary"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/panicscope/panicscope/internal/testfixtures"
	"github.com/panicscope/panicscope/vmcore"
	"github.com/panicscope/panicscope/vmcore/phys"
)

// flattenFile writes src as a makedumpfile flattened stream: records of
// 1 MiB in shuffled order, all-zero chunks left out (read back as zeros,
// as makedumpfile -R leaves holes).
func flattenFile(t *testing.T, src, dst string) {
	t.Helper()
	in, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	hdr := make([]byte, 4096)
	copy(hdr, "makedumpfile\x00")
	binary.BigEndian.PutUint64(hdr[16:], 1)
	binary.BigEndian.PutUint64(hdr[24:], 1)
	out.Write(hdr)
	const chunk = 1 << 20
	var offs []int
	for off := 0; off < len(in); off += chunk {
		offs = append(offs, off)
	}
	rand.New(rand.NewPCG(7, 7)).Shuffle(len(offs), func(i, j int) { offs[i], offs[j] = offs[j], offs[i] })
	zero := make([]byte, chunk)
	for _, off := range offs {
		b := in[off:min(off+chunk, len(in))]
		if off+len(b) < len(in) && bytes.Equal(b, zero[:len(b)]) {
			continue
		}
		var rh [16]byte
		binary.BigEndian.PutUint64(rh[0:], uint64(off))
		binary.BigEndian.PutUint64(rh[8:], uint64(len(b)))
		out.Write(rh[:])
		out.Write(b)
	}
	var end [16]byte
	for i := range end {
		end[i] = 0xff
	}
	if _, err := out.Write(end[:]); err != nil {
		t.Fatal(err)
	}
}

// sameDump checks that b holds what a holds: notes, VMCOREINFO, ranges and
// a sample of every range's pages.
func sameDump(t *testing.T, a, b *vmcore.Dump) {
	t.Helper()
	if len(a.CPUs) != len(b.CPUs) || a.VMCOREINFO() == nil || b.VMCOREINFO() == nil || a.VMCOREINFO().Raw() != b.VMCOREINFO().Raw() {
		t.Fatalf("CPUs %d/%d or VMCOREINFO differ", len(a.CPUs), len(b.CPUs))
	}
	ra, rb := a.PhysRanges(), b.PhysRanges()
	if len(ra) != len(rb) {
		t.Fatalf("ranges: %d and %d", len(ra), len(rb))
	}
	pa, pb := make([]byte, phys.PageSize), make([]byte, phys.PageSize)
	for i, r := range ra {
		if r != rb[i] {
			t.Fatalf("range %d: %v and %v", i, r, rb[i])
		}
		for addr := r.Start; addr < r.End; addr += 97 * phys.PageSize {
			ea, eb := a.ReadPhys(pa, addr), b.ReadPhys(pb, addr)
			if (ea == nil) != (eb == nil) || !bytes.Equal(pa, pb) {
				t.Fatalf("page %#x: %v / %v, same bytes %v", addr, ea, eb, bytes.Equal(pa, pb))
			}
		}
	}
	if b.Truncation != nil {
		t.Errorf("flattened copy says it is cut short: %s", b.Truncation)
	}
}

// TestFlattenedELF reads an ELF core sent as a flattened stream (as
// makedumpfile -E -F writes it) like the ELF core itself.
func TestFlattenedELF(t *testing.T) {
	fx := testfixtures.Get(t, "kdump-6.1-lzo")
	elf := testfixtures.Decompressed(t, filepath.Join(fx.Dir, "vmcore.elf.zst"))
	a, err := vmcore.Open(elf)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	dir := t.TempDir()
	streams := map[string]string{"go": filepath.Join(dir, "go.flat")}
	flattenFile(t, elf, streams["go"])
	if mdf, err := exec.LookPath("makedumpfile"); err == nil {
		p := filepath.Join(dir, "makedumpfile.flat")
		out, _ := os.Create(p)
		cmd := exec.Command(mdf, "-E", "-F", "-d", "31", elf)
		cmd.Stdout, cmd.Stderr = out, io.Discard
		if err := cmd.Run(); err != nil {
			t.Fatalf("makedumpfile -E -F: %v", err)
		}
		out.Close()
		streams["makedumpfile"] = p
	} else {
		t.Log("makedumpfile not installed: only the Go-written stream is tested")
	}
	for name, p := range streams {
		t.Run(name, func(t *testing.T) {
			b, err := vmcore.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			if b.Format != vmcore.FormatFlattenedELF {
				t.Errorf("format %q", b.Format)
			}
			sameDump(t, a, b)
		})
	}
}
