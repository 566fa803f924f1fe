package analysis

import (
	"fmt"

	"github.com/panicscope/panicscope/vmcore/finding"
	"github.com/panicscope/panicscope/vmcore/kernel"
	"github.com/panicscope/panicscope/vmcore/target"
)

// kmsgReasonNames are enum kmsg_dump_reason (include/linux/kmsg_dump.h) for
// when BTF cannot name the value.
var kmsgReasonNames = map[int64]string{0: "KMSG_DUMP_UNDEF", 1: "KMSG_DUMP_PANIC", 2: "KMSG_DUMP_OOPS", 3: "KMSG_DUMP_EMERG", 4: "KMSG_DUMP_SHUTDOWN"}

// readDumpers walks dump_list (kernel/printk/printk.c), the kmsg dumpers
// that kmsg_dump() calls in list order for each reason <= max_reason.
func readDumpers(t *target.Target, r *Report) {
	head, err := t.Kernel.Symbol("dump_list")
	if err != nil {
		r.fail(finding.About(finding.AreaDumpers), err)
		return
	}
	err = t.Kernel.ListForEachEntry(head, "struct kmsg_dumper", "list", 256, func(d kernel.Object) error {
		du := Dumper{Address: hex(d.Addr), Registered: true}
		if cb, err := memberPointer(d, "dump"); err == nil {
			du.Callback, du.Module, _ = describeCode(t, cb)
		} else {
			return fmt.Errorf("dumper at %#x: %w", d.Addr, err)
		}
		if mr, err := d.Member("max_reason"); err == nil {
			if v, err := mr.Int(); err == nil {
				du.MaxReason = ptr(int(v))
				du.ReasonName = kmsgReasonNames[v]
			}
			if name, err := mr.EnumName(); err == nil && name != "" {
				du.ReasonName = name
			}
		}
		// "registered" exists only on some kernels (5.10, 6.1).
		if reg, err := d.Member("registered"); err == nil {
			if b, err := reg.Bool(); err == nil {
				du.Registered = b
			}
		}
		r.Dumpers = append(r.Dumpers, du)
		return nil
	})
	if err != nil {
		r.Problems.Add(finding.New(kindOf(err), finding.About(finding.AreaDumpers), fmt.Errorf("walk stopped after %d: %w", len(r.Dumpers), err)))
		return
	}
	r.DumpersComplete = true
}
