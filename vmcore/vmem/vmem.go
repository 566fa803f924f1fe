// Package vmem defines reads of kernel virtual memory and the fault error
// they return. The x86 package implements Reader over physical memory; tests
// use Fake.
package vmem

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Reader reads kernel virtual memory. ReadVirt fills all of buf or returns an
// error; an address that does not translate or whose page is not in the dump
// gives a *FaultError. Implementations are safe for concurrent use.
type Reader interface {
	ReadVirt(buf []byte, vaddr uint64) error
}

// FaultError is a read of a virtual address that could not be satisfied:
// either no translation exists or the physical page is absent from the dump
// (Err then wraps a *phys.MissingError).
type FaultError struct {
	VAddr uint64
	Err   error
}

func (e *FaultError) Error() string {
	return fmt.Sprintf("virtual address %#x: %v", e.VAddr, e.Err)
}

func (e *FaultError) Unwrap() error { return e.Err }

// IsFault reports whether err wraps a *FaultError.
func IsFault(err error) bool {
	var fe *FaultError
	return errors.As(err, &fe)
}

// ErrNotMapped is wrapped by FaultError when the page tables have no entry.
var ErrNotMapped = errors.New("not mapped")

// ReadU64 reads a little-endian uint64.
func ReadU64(r Reader, vaddr uint64) (uint64, error) {
	var b [8]byte
	if err := r.ReadVirt(b[:], vaddr); err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b[:]), nil
}

// ReadU32 reads a little-endian uint32.
func ReadU32(r Reader, vaddr uint64) (uint32, error) {
	var b [4]byte
	if err := r.ReadVirt(b[:], vaddr); err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b[:]), nil
}

// ReadCString reads a NUL-terminated string of at most max bytes. It reads in
// small chunks so a string near an unmapped page still reads.
func ReadCString(r Reader, vaddr uint64, max int) (string, error) {
	out := make([]byte, 0, 64)
	var chunk [64]byte
	for len(out) < max {
		n := len(chunk)
		// Do not cross a page boundary in one read.
		if rem := 4096 - int(vaddr%4096); rem < n {
			n = rem
		}
		if err := r.ReadVirt(chunk[:n], vaddr); err != nil {
			if n == 1 {
				return string(out), err
			}
			// The string may end before the fault: retry byte by byte.
			n = 1
			if err := r.ReadVirt(chunk[:1], vaddr); err != nil {
				return string(out), err
			}
		}
		for i := 0; i < n; i++ {
			if chunk[i] == 0 {
				return string(append(out, chunk[:i]...)), nil
			}
		}
		out = append(out, chunk[:n]...)
		vaddr += uint64(n)
	}
	return string(out[:max]), nil
}
