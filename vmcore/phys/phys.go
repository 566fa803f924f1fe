// Package phys defines how every dump format exposes the machine's physical
// memory, and the typed error for memory that is not in the dump.
//
// Addresses are uint64: kernel addresses do not fit in int64, so io.ReaderAt
// is not used for memory (the same choice as delve's ReadMemory).
package phys

import (
	"errors"
	"fmt"
)

// PageSize is the x86_64 base page size. Formats with another block size
// report it separately; physical reads are always byte-addressed.
const PageSize = 4096

// Memory reads physical memory. ReadPhys fills all of buf starting at paddr,
// crossing page and segment boundaries, or returns an error. When part of
// the range is absent it returns a *MissingError for the first absent byte.
// Implementations must be safe for concurrent use.
type Memory interface {
	ReadPhys(buf []byte, paddr uint64) error
}

// Why a page is absent from a dump.
type MissingReason int

const (
	// NotInDump: no segment or bitmap entry covers the address at all.
	NotInDump MissingReason = iota
	// Excluded: makedumpfile filtered the page (dump level) or a zero page
	// was omitted; the page existed in the machine.
	Excluded
	// BeyondEnd: the dump is truncated or incomplete before this page.
	BeyondEnd
)

func (r MissingReason) String() string {
	switch r {
	case Excluded:
		return "excluded from the dump"
	case BeyondEnd:
		return "beyond the end of the dump"
	default:
		return "not in the dump"
	}
}

// MissingError reports a physical address that the dump does not hold.
// Callers branch on it with errors.As to tell "fault" from real errors.
type MissingError struct {
	Addr   uint64
	Reason MissingReason
}

func (e *MissingError) Error() string {
	return fmt.Sprintf("physical address %#x: %s", e.Addr, e.Reason)
}

// IsMissing reports whether err (or anything it wraps) is a *MissingError.
func IsMissing(err error) bool {
	var me *MissingError
	return errors.As(err, &me)
}

// Range is a half-open physical address range [Start, End).
type Range struct {
	Start, End uint64
}

// Ranger is implemented by formats that can list the ranges they may hold.
// It is used for scans (finding VMCOREINFO text, kallsyms tables).
type Ranger interface {
	Ranges() []Range
}
