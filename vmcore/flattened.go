package vmcore

import (
	"errors"
	"fmt"
	"io"

	"github.com/panicscope/panicscope/vmcore/internal/flat"
)

// FormatFlattenedELF is an ELF core sent as a makedumpfile flattened
// stream (makedumpfile -E -F).
const FormatFlattenedELF Format = "elf (makedumpfile flattened)"

// openFlattened reads a makedumpfile flattened stream as the file it
// describes: a kdump-compressed file (makedumpfile -F, QEMU's kdump-*
// formats) or an ELF core (makedumpfile -E -F).
func openFlattened(r io.ReaderAt, size int64) (*Dump, error) {
	fr, err := flat.Open(r, size)
	if err != nil {
		return nil, fmt.Errorf("flattened: %w", err)
	}
	var magic [12]byte
	if _, err := fr.ReadAt(magic[:], 0); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("flattened stream content: %w", err)
	}
	if string(magic[:]) == "makedumpfile" {
		return nil, errors.New("flattened stream content: another flattened stream")
	}
	d, err := openReader(fr, fr.Size())
	if err != nil {
		return nil, fmt.Errorf("flattened stream content: %w", err)
	}
	switch d.Format {
	case FormatKdumpCompressed:
		d.Format = FormatFlattened
	default:
		d.Format = FormatFlattenedELF
	}
	d.Truncation = flatTruncation(fr, size, d.Truncation)
	return d, nil
}
