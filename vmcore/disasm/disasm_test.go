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
