package analysis

import (
	"errors"

	"github.com/panicscope/panicscope/vmcore/finding"
	"github.com/panicscope/panicscope/vmcore/kernel"
	"github.com/panicscope/panicscope/vmcore/vmem"
)

// kindOf classifies an error from the object layer (which reads through
// vmem, so a page not in the dump arrives as a *vmem.FaultError): memory
// not in the dump is Unreadable, a symbol or member this kernel lacks is NoSource, a list
// longer than panicscope walks is Limit, anything else (a cycle, a poisoned
// pointer, a wrong type) is Damaged.
func kindOf(err error) finding.Kind {
	var le *kernel.ListError
	if errors.As(err, &le) && le.Reason == kernel.ListTooLong {
		return finding.Limit
	}
	k := finding.KindOf(err, finding.Damaged, vmem.IsFault)
	if k == finding.Damaged && errors.Is(err, kernel.ErrAbsent) {
		return finding.NoSource
	}
	return k
}

func ptr[T any](v T) *T { return &v }
