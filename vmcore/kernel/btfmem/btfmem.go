// Package btfmem loads the kernel's own BTF type information out of a dump's
// memory: vmlinux BTF between __start_BTF and __stop_BTF (kernel/bpf/sysfs_btf.c
// exposes the same bytes as /sys/kernel/btf/vmlinux) and split module BTF
// (struct btf.data of each entry of btf_modules, kernel/bpf/btf.c).
//
// The bytes come from a possibly corrupt dump, so before github.com/cilium/ebpf/btf
// sees them they are bounded (MaxBlob), their type graph is checked (check.go)
// and every type is inflated once, in an order that keeps cilium's recursive
// decoder shallow; later lookups are then cache hits.
package btfmem

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/cilium/ebpf/btf"

	"github.com/panicscope/panicscope/vmcore/vmem"
)

// MaxBlob bounds a BTF blob read from memory. vmlinux BTF of a distribution
// kernel is 4–6 MiB.
const MaxBlob = 64 << 20

// ErrBadBTF is wrapped by every error about the blob's content (as opposed to
// a read fault, which stays a *vmem.FaultError).
var ErrBadBTF = errors.New("invalid BTF")

// Read copies [start, stop) out of memory, in page-sized pieces so a fault
// names the first missing page.
func Read(mem vmem.Reader, start, stop uint64) ([]byte, error) {
	if start >= stop {
		return nil, fmt.Errorf("btfmem: empty range %#x-%#x: %w", start, stop, ErrBadBTF)
	}
	if stop-start > MaxBlob {
		return nil, fmt.Errorf("btfmem: range %#x-%#x is %d bytes, over the %d limit: %w",
			start, stop, stop-start, MaxBlob, ErrBadBTF)
	}
	blob := make([]byte, stop-start)
	for off := 0; off < len(blob); {
		n := 4096 - int((start+uint64(off))%4096)
		if n > len(blob)-off {
			n = len(blob) - off
		}
		if err := mem.ReadVirt(blob[off:off+n], start+uint64(off)); err != nil {
			return nil, fmt.Errorf("btfmem: reading BTF at %#x: %w", start+uint64(off), err)
		}
		off += n
	}
	return blob, nil
}

// Load reads and parses vmlinux BTF from [start, stop), normally the
// addresses of __start_BTF and __stop_BTF.
func Load(mem vmem.Reader, start, stop uint64) (*btf.Spec, error) {
	blob, err := Read(mem, start, stop)
	if err != nil {
		return nil, err
	}
	return Parse(blob)
}

// Parse checks and parses a raw vmlinux BTF blob.
func Parse(blob []byte) (*btf.Spec, error) {
	n, err := check(blob, 1)
	if err != nil {
		return nil, fmt.Errorf("btfmem: %w", err)
	}
	spec, err := btf.LoadSpecFromReader(bytes.NewReader(blob))
	if err != nil {
		return nil, fmt.Errorf("btfmem: %v: %w", err, ErrBadBTF)
	}
	if err := inflate(spec, 1, n); err != nil {
		return nil, fmt.Errorf("btfmem: %w", err)
	}
	return spec, nil
}

// LoadSplit reads and parses split BTF of size bytes at addr (a module's
// struct btf.data/data_size, or struct module.btf_data/btf_data_size before
// do_init_module() clears it) on top of base, normally the vmlinux Spec
// returned by Load. The result resolves only the module's own types by name;
// references into base work.
func LoadSplit(mem vmem.Reader, addr, size uint64, base *btf.Spec) (*btf.Spec, error) {
	if size == 0 || addr+size < addr {
		return nil, fmt.Errorf("btfmem: split BTF %#x+%d: %w", addr, size, ErrBadBTF)
	}
	blob, err := Read(mem, addr, addr+size)
	if err != nil {
		return nil, err
	}
	return ParseSplit(blob, base)
}

// ParseSplit checks and parses a split BTF blob on top of base.
func ParseSplit(blob []byte, base *btf.Spec) (*btf.Spec, error) {
	if base == nil {
		return nil, errors.New("btfmem: split BTF needs a base")
	}
	first, err := baseCount(base)
	if err != nil {
		return nil, fmt.Errorf("btfmem: base: %w", err)
	}
	n, err := check(blob, uint32(first))
	if err != nil {
		return nil, fmt.Errorf("btfmem: split: %w", err)
	}
	spec, err := btf.LoadSplitSpecFromReader(bytes.NewReader(blob), base)
	if err != nil {
		return nil, fmt.Errorf("btfmem: split: %v: %w", err, ErrBadBTF)
	}
	if err := inflate(spec, first, n); err != nil {
		return nil, fmt.Errorf("btfmem: split: %w", err)
	}
	return spec, nil
}

// inflate decodes types [first, first+n) in ascending order, the order check
// simulated, so that later lookups never recurse.
func inflate(spec *btf.Spec, first btf.TypeID, n int) error {
	for i := 0; i < n; i++ {
		if _, err := spec.TypeByID(first + btf.TypeID(i)); err != nil {
			return fmt.Errorf("type %d: %v: %w", first+btf.TypeID(i), err, ErrBadBTF)
		}
	}
	return nil
}

// baseCount is the first type ID of split BTF on top of base: the number of
// base types plus one for void. The Spec does not export it, so it is found
// by a binary search on TypeByID (cheap on a Spec that Parse inflated).
func baseCount(base *btf.Spec) (btf.TypeID, error) {
	lo, hi := btf.TypeID(1), btf.TypeID(maxTypes+2) // lo exists (or is the answer), hi does not
	if _, err := base.TypeByID(hi); !errors.Is(err, btf.ErrNotFound) {
		return 0, fmt.Errorf("more than %d types: %w", maxTypes, ErrBadBTF)
	}
	for lo < hi {
		mid := lo + (hi-lo)/2
		_, err := base.TypeByID(mid)
		switch {
		case errors.Is(err, btf.ErrNotFound):
			hi = mid
		case err != nil:
			return 0, err
		default:
			lo = mid + 1
		}
	}
	return lo, nil
}
