package disasm

import (
	"errors"
	"testing"

	"github.com/panicscope/panicscope/vmcore/vmem"
)

func TestRangeNamesCallTargets(t *testing.T) {
	const base = 0xffffffff81000000
	code := []byte{
		0x55,             // push %rbp
		0x48, 0x89, 0xe5, // mov %rsp,%rbp
		0xe8, 0xf7, 0x0f, 0x00, 0x00, // call base+0x1000
		0x06, // invalid in 64-bit mode
		0xc3, // ret
	}
	var m vmem.Fake
	m.Map(base, code)
	sym := func(a uint64) (string, uint64, bool) {
		if a == base+0x1000 {
			return "target_fn", 0, true
		}
		return "", 0, false
	}
	lines, err := Range(&m, "x86_64", base, base+uint64(len(code)), sym)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"push %rbp", "mov %rsp,%rbp", "call target_fn", "(bad)", "ret"}
	if len(lines) != len(want) {
		t.Fatalf("%d lines: %+v", len(lines), lines)
	}
	for i, l := range lines {
		if l.Text != want[i] && !(want[i] == "call target_fn" && l.Text == "callq target_fn") && !(want[i] == "ret" && l.Text == "retq") {
			t.Errorf("line %d at %#x: %q, want %q", i, l.PC, l.Text, want[i])
		}
	}
	if lines[3].PC != base+9 || len(lines[3].Bytes) != 1 {
		t.Errorf("bad byte: %+v", lines[3])
	}
}

func TestRangeStopsAtUnreadable(t *testing.T) {
	var m vmem.Fake
	m.Map(0xffffffff81000ff0, make([]byte, 0x10)) // nops (00 00 = add) then a hole
	lines, err := Range(&m, "x86_64", 0xffffffff81000ff0, 0xffffffff81001100, nil)
	if !vmem.IsFault(err) || len(lines) == 0 {
		t.Fatalf("lines %d, err %v: want the readable prefix and a fault", len(lines), err)
	}
	if _, err := Range(&m, "riscv64", 0, 16, nil); !errors.Is(err, ErrUnsupported) {
		t.Errorf("riscv64: %v", err)
	}
}

// TestRangeArm64: A64 words decode in GNU syntax; a BL names its target as
// objdump does; a word that does not decode is ".inst".
func TestRangeArm64(t *testing.T) {
	const base = 0xffffc728ecf00000
	words := []uint32{
		0xa9bf7bfd, // stp x29, x30, [sp, #-16]!
		0x910003fd, // mov x29, sp
		0x94000004, // bl base+8+0x10
		0x00000000, // udf #0 / not an instruction
		0xd65f03c0, // ret
	}
	code := make([]byte, 4*len(words))
	for i, w := range words {
		code[4*i], code[4*i+1], code[4*i+2], code[4*i+3] = byte(w), byte(w>>8), byte(w>>16), byte(w>>24)
	}
	var m vmem.Fake
	m.Map(base, code)
	sym := func(a uint64) (string, uint64, bool) {
		if a >= base+0x18 && a < base+0x40 {
			return "vpanic", a - (base + 0x18), true
		}
		return "", 0, false
	}
	lines, err := Range(&m, "aarch64", base, base+uint64(len(code)), sym)
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 5 {
		t.Fatalf("%d lines: %+v", len(lines), lines)
	}
	for i, want := range []string{"stp x29, x30, [sp,#-16]!", "mov x29, sp", "bl ffffc728ecf00018 <vpanic>", "", "ret"} {
		if want != "" && lines[i].Text != want {
			t.Errorf("line %d: %q, want %q", i, lines[i].Text, want)
		}
	}
	if lines[2].PC != base+8 || len(lines[2].Bytes) != 4 {
		t.Errorf("line 2: %+v", lines[2])
	}
	if _, err := Range(&m, "riscv64", base, base+4, nil); !errors.Is(err, ErrUnsupported) {
		t.Errorf("riscv64: %v", err)
	}
}
