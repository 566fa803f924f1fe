package vmcore

import (
	"fmt"

	"github.com/panicscope/panicscope/vmcore/internal/diskdump"
	"github.com/panicscope/panicscope/vmcore/internal/elfcore"
	"github.com/panicscope/panicscope/vmcore/internal/flat"
)

// Truncation says how a dump file is cut short (a copy interrupted, a disk
// that filled up): what the reader found missing, and from where. Pages
// past the cut read as *phys.MissingError (phys.BeyondEnd).
type Truncation struct {
	FileBytes int64 `json:"file_bytes"`
	// NeedBytes is the size the file should have at least (its headers
	// say so); 0 when unknown.
	NeedBytes int64 `json:"needs_at_least_bytes,omitempty"`
	// MissingSince is the physical address of the first page found
	// missing ("" when no page can be located: the file ends before its
	// page index).
	MissingSince string `json:"missing_since,omitempty"`
	// MissingPagesAtMost bounds the pages lost (pages from MissingSince on
	// that the file should hold; 0 when unknown).
	MissingPagesAtMost uint64 `json:"missing_pages_at_most,omitempty"`
	Detail             string `json:"detail"`
}

// String is a one-line summary.
func (t *Truncation) String() string {
	s := fmt.Sprintf("the file is cut short: %d bytes", t.FileBytes)
	if t.NeedBytes > t.FileBytes {
		s += fmt.Sprintf(" of at least %d (%.0f%%)", t.NeedBytes, 100*float64(t.FileBytes)/float64(t.NeedBytes))
	}
	if t.MissingSince != "" {
		s += "; pages missing from physical " + t.MissingSince
		if t.MissingPagesAtMost > 0 {
			s += fmt.Sprintf(" on (at most %d)", t.MissingPagesAtMost)
		}
	} else {
		s += "; no page can be read"
	}
	return s
}

// diskdumpTruncation reads a kdump-compressed file's cut; nil when whole.
func diskdumpTruncation(dd *diskdump.File) *Truncation {
	c, ok := dd.Cut()
	if !ok {
		return nil
	}
	t := &Truncation{FileBytes: c.FileSize, NeedBytes: c.NeedAtLeast, MissingPagesAtMost: c.PagesAtMost,
		Detail: "page descriptors or data lie past the end of the file"}
	if c.HasFirst {
		t.MissingSince = fmt.Sprintf("%#x", c.FirstMissingPFN*uint64(dd.BlockSize()))
	} else {
		t.Detail = "the file ends inside the page bitmaps"
	}
	return t
}

// flatTruncation adds what the flattened stream says to the rearranged
// file's cut: a stream without its end marker lacks records, whose bytes
// read as zeros.
func flatTruncation(fr *flat.Reader, streamBytes int64, inner *Truncation) *Truncation {
	if !fr.Truncated() {
		return inner
	}
	const why = "the flattened stream ends without its end marker"
	if inner == nil {
		return &Truncation{FileBytes: streamBytes, Detail: why + " (pages whose records are missing read as beyond the end)"}
	}
	inner.FileBytes = streamBytes
	inner.NeedBytes = 0 // offsets are in the rearranged file, not the stream
	inner.Detail = why + "; " + inner.Detail
	return inner
}

// elfTruncation reads an ELF core's cut; nil when whole.
func elfTruncation(ef *elfcore.File) *Truncation {
	c, ok := ef.Cut()
	if !ok {
		return nil
	}
	return &Truncation{FileBytes: c.FileSize, NeedBytes: c.NeedAtLeast,
		MissingSince:       fmt.Sprintf("%#x", c.FirstMissing),
		MissingPagesAtMost: (c.MissingBytes + 4095) / 4096,
		Detail:             "PT_LOAD data lies past the end of the file"}
}
