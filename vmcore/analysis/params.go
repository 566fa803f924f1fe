package analysis

import (
	"fmt"
	"strings"

	"github.com/panicscope/panicscope/vmcore/finding"
	"github.com/panicscope/panicscope/vmcore/target"
)

// readParameters reads the panic-path knobs (kernel/panic.c,
// kernel/kexec_core.c) as they were in memory at dump time.
func readParameters(t *target.Target, r *Report) {
	k := t.Kernel
	readInt := func(name, typ string) *int64 {
		o, err := k.Global(name, typ)
		if err != nil {
			r.fail(finding.About(finding.AreaParams, name), err)
			return nil
		}
		v, err := o.Int()
		if err != nil {
			r.fail(finding.About(finding.AreaParams, name), err)
			return nil
		}
		return &v
	}
	readUint := func(name, typ string) *uint64 {
		o, err := k.Global(name, typ)
		if err != nil {
			r.fail(finding.About(finding.AreaParams, name), err)
			return nil
		}
		v, err := o.Uint()
		if err != nil {
			r.fail(finding.About(finding.AreaParams, name), err)
			return nil
		}
		return &v
	}
	p := &r.Parameters
	if v := readUint("crash_kexec_post_notifiers", "bool"); v != nil {
		b := *v != 0
		p.CrashKexecPostNotifiers = &b
	}
	p.PanicTimeout = readInt("panic_timeout", "int")
	p.PanicPrint = readUint("panic_print", "unsigned long")
	p.PanicOnOops = readInt("panic_on_oops", "int")
	p.PanicOnWarn = readInt("panic_on_warn", "int")
	// kexec_crash_image is the loaded crash kernel (kexec -p), NULL if none.
	if v := readUint("kexec_crash_image", "unsigned long"); v != nil {
		b := *v != 0
		p.CrashKernelLoaded = &b
	}
	if v := readInt("panic_cpu", "int"); v != nil {
		r.panicCPU = v
	}
	if v := readInt("oops_in_progress", "int"); v != nil {
		iv := int(*v)
		r.Panic.OopsInProgress = &iv
	}
	if v := readUint("tainted_mask", "unsigned long"); v != nil {
		r.Panic.TaintMask = v
		r.Panic.Taint = ptr(TaintString(*v))
	}
}

// taintFlags are the letters of taint_flags[] (kernel/panic.c) by bit.
var taintFlags = []struct {
	bit  uint
	char byte
}{
	{0, 'P'}, {1, 'F'}, {2, 'S'}, {3, 'R'}, {4, 'M'}, {5, 'B'}, {6, 'U'}, {7, 'D'},
	{8, 'A'}, {9, 'W'}, {10, 'C'}, {11, 'I'}, {12, 'O'}, {13, 'E'}, {14, 'L'}, {15, 'K'},
	{16, 'X'}, {17, 'T'}, {18, 'N'},
}

// TaintString renders a taint mask the way print_tainted() does, minus the
// padding: "Not tainted", or "Tainted: G     O" style letters squeezed to
// the set flags (plus 'G' when no proprietary module is loaded).
func TaintString(mask uint64) string {
	if mask == 0 {
		return "Not tainted"
	}
	var b strings.Builder
	if mask&1 == 0 {
		b.WriteByte('G')
	}
	for _, f := range taintFlags {
		if mask&(1<<f.bit) != 0 {
			b.WriteByte(f.char)
		}
	}
	if rest := mask &^ (1<<19 - 1); rest != 0 {
		fmt.Fprintf(&b, " (+%#x)", rest)
	}
	return b.String()
}
