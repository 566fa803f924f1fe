package vmcore_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/panicscope/panicscope/internal/testfixtures"
	"github.com/panicscope/panicscope/vmcore"
	"github.com/panicscope/panicscope/vmcore/internal/diskdump"
	"github.com/panicscope/panicscope/vmcore/phys"
)

// TestSplitSetReal splits a real dump with makedumpfile --split and opens
// each part: the set found beside it reads like the dump written whole.
func TestSplitSetReal(t *testing.T) {
	mdf, err := exec.LookPath("makedumpfile")
	if err != nil {
		t.Skip("makedumpfile not installed (apt-get install makedumpfile)")
	}
	fx := testfixtures.Get(t, "kdump-6.1-lzo")
	elf := testfixtures.Decompressed(t, filepath.Join(fx.Dir, "vmcore.elf.zst"))
	dir := t.TempDir()
	whole := filepath.Join(dir, "whole")
	run := func(args ...string) {
		cmd := exec.Command(mdf, args...)
		cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
		if err := cmd.Run(); err != nil {
			t.Fatalf("makedumpfile %v: %v", args, err)
		}
	}
	run("-l", "-d", "31", elf, whole)
	parts := []string{filepath.Join(dir, "dump.1"), filepath.Join(dir, "dump.2"), filepath.Join(dir, "dump.3")}
	run(append([]string{"--split", "--splitblock-size", "4096", "-l", "-d", "31", elf}, parts...)...)
	a, err := vmcore.Open(whole)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	for _, p := range parts {
		b, err := vmcore.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		if b.Split == nil || len(b.Split.Parts) != 3 || len(b.Split.Missing) != 0 {
			t.Fatalf("%s: split %+v", p, b.Split)
		}
		sameDump(t, a, b)
		b.Close()
	}
	// One part alone says which pfns it holds and which are missing.
	alone := filepath.Join(t.TempDir(), "dump.2")
	data, err := os.ReadFile(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(alone, data, 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := vmcore.Open(alone)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Split == nil || len(c.Split.Parts) != 1 || len(c.Split.Missing) != 2 || len(c.Warnings) == 0 {
		t.Fatalf("a part alone: split %+v, warnings %v", c.Split, c.Warnings)
	}
	page := make([]byte, phys.PageSize)
	var me *phys.MissingError
	if err := c.ReadPhys(page, 0); !errors.As(err, &me) || me.Reason != phys.NotInDump {
		t.Errorf("page 0 from part 2 alone: %v", err)
	}
	// The pages it holds read as in the whole dump.
	for _, r := range c.PhysRanges() {
		pa := make([]byte, phys.PageSize)
		if err := a.ReadPhys(pa, r.Start); err != nil {
			t.Fatal(err)
		}
		if err := c.ReadPhys(page, r.Start); err != nil || !bytes.Equal(pa, page) {
			t.Fatalf("%#x: %v", r.Start, err)
		}
	}
}

// writeSplitPart writes a kdump-compressed part holding pages [start, end)
// of a 64-page machine (page i filled with byte i), marked as split.
func writeSplitPart(t *testing.T, path string, start, end uint64) {
	t.Helper()
	w, err := diskdump.NewWriter(diskdump.WriteOptions{MaxMapnr: 64, VMCOREINFO: []byte("OSRELEASE=6.1.0-split\n"),
		UTSName: diskdump.UTSName{Release: "6.1.0-split", Machine: "x86_64"}})
	if err != nil {
		t.Fatal(err)
	}
	for pfn := start; pfn < end; pfn++ {
		if err := w.AddPage(pfn, bytes.Repeat([]byte{byte(pfn)}, phys.PageSize)); err != nil {
			t.Fatal(err)
		}
	}
	var b bytes.Buffer
	if _, err := w.Write(&b); err != nil {
		t.Fatal(err)
	}
	out := b.Bytes()
	sub := out[phys.PageSize:] // struct kdump_sub_header at block 1
	binary.LittleEndian.PutUint32(sub[12:], 1)
	for _, off := range []int{16, 80} {
		binary.LittleEndian.PutUint64(sub[off:], start)
		binary.LittleEndian.PutUint64(sub[off+8:], end)
	}
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestSplitSetSynthetic: the parts beside the one opened are found by
// name and read as one dump; a missing part is named and its pages are
// not in the dump; files of another set beside them are left out.
func TestSplitSetSynthetic(t *testing.T) {
	dir := t.TempDir()
	bounds := []uint64{0, 20, 41, 64}
	for i := 0; i < 3; i++ {
		writeSplitPart(t, filepath.Join(dir, fmt.Sprintf("vmcore%d", i+1)), bounds[i], bounds[i+1])
	}
	if err := os.WriteFile(filepath.Join(dir, "vmcore7"), []byte("not a dump"), 0o644); err != nil {
		t.Fatal(err)
	}
	check := func(d *vmcore.Dump, missing func(pfn uint64) bool) {
		t.Helper()
		page := make([]byte, phys.PageSize)
		for pfn := uint64(0); pfn < 64; pfn++ {
			err := d.ReadPhys(page, pfn*phys.PageSize)
			if missing(pfn) {
				var me *phys.MissingError
				if !errors.As(err, &me) || me.Reason != phys.NotInDump {
					t.Fatalf("pfn %d: %v, want not in dump", pfn, err)
				}
				continue
			}
			if err != nil || page[0] != byte(pfn) || page[phys.PageSize-1] != byte(pfn) {
				t.Fatalf("pfn %d: %v, byte %d", pfn, err, page[0])
			}
		}
		// A read across two parts.
		buf := make([]byte, 2*phys.PageSize)
		if !missing(19) && !missing(21) {
			if err := d.ReadPhys(buf, 19*phys.PageSize+100); err != nil || buf[0] != 19 || buf[phys.PageSize-100] != 20 || buf[len(buf)-1] != 21 {
				t.Fatalf("read across parts: %v", err)
			}
		}
	}
	d, err := vmcore.Open(filepath.Join(dir, "vmcore2"))
	if err != nil {
		t.Fatal(err)
	}
	if d.Split == nil || len(d.Split.Parts) != 3 || len(d.Split.Missing) != 0 {
		t.Fatalf("split %+v", d.Split)
	}
	check(d, func(uint64) bool { return false })
	d.Close()

	if err := os.Remove(filepath.Join(dir, "vmcore3")); err != nil {
		t.Fatal(err)
	}
	d, err = vmcore.Open(filepath.Join(dir, "vmcore1"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.Split == nil || len(d.Split.Parts) != 2 || len(d.Split.Missing) != 1 || d.Split.Missing[0].StartPFN != 41 || d.Split.Missing[0].EndPFN != 64 {
		t.Fatalf("split without its last part: %+v", d.Split)
	}
	if len(d.Warnings) == 0 {
		t.Error("no warning about the missing part")
	}
	check(d, func(pfn uint64) bool { return pfn >= 41 })
}

// TestSplitSetGivenParts: parts whose names do not follow the one opened
// (renamed by someone) are read when given; a given file of another kind
// is named in a warning, not read.
func TestSplitSetGivenParts(t *testing.T) {
	dir := t.TempDir()
	names := []string{"alpha", "bravo", "charlie"}
	bounds := []uint64{0, 20, 41, 64}
	for i, n := range names {
		writeSplitPart(t, filepath.Join(dir, n), bounds[i], bounds[i+1])
	}
	other := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(other, []byte("not a dump"), 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := vmcore.OpenParts(filepath.Join(dir, "bravo"), []string{filepath.Join(dir, "charlie"), filepath.Join(dir, "alpha"), other})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if d.Split == nil || len(d.Split.Parts) != 3 || len(d.Split.Missing) != 0 {
		t.Fatalf("split %+v", d.Split)
	}
	page := make([]byte, phys.PageSize)
	if err := d.ReadPhys(page, 50*phys.PageSize); err != nil || page[0] != 50 {
		t.Fatalf("pfn 50 from the given part: %v %d", err, page[0])
	}
	found := false
	for _, w := range d.Warnings {
		found = found || strings.Contains(w, "notes.txt is not a part of the same makedumpfile --split set")
	}
	if !found {
		t.Errorf("warnings %q", d.Warnings)
	}
}
