package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/panicscope/panicscope/internal/testfixtures"
)

func TestBtUsage(t *testing.T) {
	for _, args := range [][]string{{"bt"}, {"bt", "a", "b"}, {"bt", "--live"}} {
		if err := run(args, &bytes.Buffer{}, &bytes.Buffer{}); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}

// TestBtJSON: every CPU of the QEMU sysrq fixture, the panicking one marked,
// frames innermost first with how each was found.
func TestBtJSON(t *testing.T) {
	fx := testfixtures.Get(t, "qemu-6.1-sysrq")
	var out, errb bytes.Buffer
	if err := run([]string{"bt", filepath.Join(fx.Dir, "vmcore"), "--json"}, &out, &errb); err != nil {
		t.Fatalf("%v\n%s", err, errb.String())
	}
	var traces []struct {
		CPU       int               `json:"cpu"`
		PID       int               `json:"pid"`
		Comm      string            `json:"comm"`
		Panicking bool              `json:"panicking"`
		Complete  bool              `json:"complete"`
		UserRegs  map[string]string `json:"user_regs"`
		Frames    []struct {
			Function string `json:"function"`
			Offset   uint64 `json:"offset"`
			Module   string `json:"module"`
			Reliable bool   `json:"reliable"`
			Method   string `json:"method"`
			Stack    string `json:"stack"`
		} `json:"frames"`
	}
	if err := json.Unmarshal(out.Bytes(), &traces); err != nil {
		t.Fatal(err)
	}
	if len(traces) != 2 {
		t.Fatalf("%d traces", len(traces))
	}
	p := traces[1]
	if !p.Panicking || p.CPU != 1 || p.PID != 117 || p.Comm != "sh" || !p.Complete || p.UserRegs == nil {
		t.Errorf("panicking trace: %+v", p)
	}
	var fns []string
	for _, f := range p.Frames {
		fns = append(fns, f.Function)
		if !f.Reliable || (f.Method != "orc" && f.Method != "regs") {
			t.Errorf("frame %+v", f)
		}
	}
	if got := strings.Join(fns, " "); !strings.HasPrefix(got, "delay_tsc panic sysrq_handle_crash") || !strings.HasSuffix(got, "entry_SYSCALL_64_after_hwframe") {
		t.Errorf("frames %s", got)
	}
	if traces[0].Panicking || traces[0].Frames[0].Function != "stop_this_cpu" || traces[0].Frames[0].Stack != "IRQ" {
		t.Errorf("other cpu: %+v", traces[0].Frames[0])
	}
}

func TestBtTextPidAndCPU(t *testing.T) {
	fx := testfixtures.Get(t, "qemu-6.1-lp-oops-pstore")
	path := filepath.Join(fx.Dir, "vmcore")
	var out bytes.Buffer
	if err := run([]string{"bt", path, "--cpu", "1"}, &out, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"[panicking]", "[exception RIP: labpanic_do_oops+0x18/0x23 [labpanic]]", "user-mode registers:", "(user mode, complete)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("missing %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	if err := run([]string{"bt", path, "--pid", "1"}, &out, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "from saved context") || !strings.Contains(out.String(), "__schedule+") {
		t.Errorf("pid 1:\n%s", out.String())
	}
	if err := run([]string{"bt", path, "--pid", "99999"}, &bytes.Buffer{}, &bytes.Buffer{}); err == nil {
		t.Errorf("unknown pid accepted")
	}
	if err := run([]string{"bt", path, "--cpu", "7"}, &bytes.Buffer{}, &bytes.Buffer{}); err == nil {
		t.Errorf("cpu 7 accepted")
	}
}
