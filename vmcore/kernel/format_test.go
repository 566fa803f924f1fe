package kernel_test

import (
	"strings"
	"testing"

	"github.com/panicscope/panicscope/vmcore/kernel"
)

func TestFormatStruct(t *testing.T) {
	k := newKernel(t, nil)
	f, err := k.Global("lab_flags", "lab_flags")
	if err != nil {
		t.Fatal(err)
	}
	got := f.Format(kernel.FormatOptions{Symbolize: func(a uint64) string {
		if a == 0xffff888000040000 {
			return "comm_buf"
		}
		return ""
	}})
	for _, want := range []string{
		"struct lab_flags {\n",
		"  a = 5,\n", "  b = 17,\n", "  s = -3,\n", "  wide = 703710,\n",
		"    l = -42,\n", // the anonymous union, printed whole
		`  name = "swapper/0",`,
		"  st = LAB_BUSY,\n",
		"  refs = {\n    counter = 3\n  },\n",
		"  comm = 0xffff888000040000 <comm_buf>\n}\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
}

func TestFormatUnreadableAndBounded(t *testing.T) {
	k := newKernel(t, nil)
	// A lab_flags over unmapped memory: every member says why, none panics.
	o, err := k.Object(0xffff888000050000, "struct lab_flags")
	if err != nil {
		t.Fatal(err)
	}
	got := o.Format(kernel.FormatOptions{})
	if !strings.Contains(got, "a = <unreadable: ") || !strings.Contains(got, "name = <unreadable: ") {
		t.Errorf("unreadable members not marked:\n%s", got)
	}
	cut := o.Format(kernel.FormatOptions{MaxLines: 3})
	if n := strings.Count(cut, "\n"); n > 6 || !strings.Contains(cut, "(output cut at 3 lines)") {
		t.Errorf("MaxLines 3 gave %d lines:\n%s", n, cut)
	}
}

func TestFormatEscapesStrings(t *testing.T) {
	k := newKernel(t, func(rs map[string]*region) {
		copy(rs["flags"].data[24:], "\x1b[2Jevil\x07\x00")
	})
	f, err := k.Global("lab_flags", "lab_flags")
	if err != nil {
		t.Fatal(err)
	}
	got := f.Format(kernel.FormatOptions{})
	if strings.ContainsAny(got, "\x1b\x07") || !strings.Contains(got, `name = "\x1b[2Jevil\a"`) {
		t.Errorf("control bytes reached the output:\n%q", got)
	}
}
