package vmcore

import (
	"fmt"
	"io"
)

// OpenReaderAt opens a dump held in r (size bytes), e.g. an embedded file
// in memory. name is used as Path and in errors. Close does not close r.
func OpenReaderAt(r io.ReaderAt, size int64, name string) (*Dump, error) {
	d, err := openReader(r, size)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	d.Path = name
	return d, nil
}
