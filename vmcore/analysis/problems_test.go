package analysis

import (
	"errors"
	"fmt"
	"testing"

	"github.com/panicscope/panicscope/vmcore/finding"
	"github.com/panicscope/panicscope/vmcore/kernel"
	"github.com/panicscope/panicscope/vmcore/phys"
	"github.com/panicscope/panicscope/vmcore/vmem"
)

func TestKindOf(t *testing.T) {
	fault := &vmem.FaultError{VAddr: 0xffffffff81000000, Err: &phys.MissingError{Addr: 0x1000000}}
	for _, c := range []struct {
		err  error
		want finding.Kind
	}{
		{fmt.Errorf("chain: %w", fault), finding.Unreadable},
		{&kernel.ListError{Reason: kernel.ListFault, Err: fault}, finding.Unreadable},
		{&kernel.ListError{Reason: kernel.ListTooLong}, finding.Limit},
		{&kernel.ListError{Reason: kernel.ListCycle}, finding.Damaged},
		{fmt.Errorf("symbol psinfo: %w", kernel.ErrAbsent), finding.NoSource},
		{errors.New("something else"), finding.Damaged},
		{finding.New(finding.Truncated, finding.About(finding.AreaDump), errors.New("cut")), finding.Truncated},
	} {
		if got := kindOf(c.err); got != c.want {
			t.Errorf("kindOf(%v) = %s, want %s", c.err, got, c.want)
		}
	}
	// The problem keeps the error: callers still reach the fault.
	var r Report
	r.fail(finding.About(finding.AreaChain, "panic_notifier_list"), fmt.Errorf("head: %w", fault))
	var fe *vmem.FaultError
	if len(r.Problems) != 1 || !errors.As(r.Problems[0], &fe) || r.Problems[0].Subject.ID != "panic_notifier_list" {
		t.Errorf("problem %+v", r.Problems)
	}
}
