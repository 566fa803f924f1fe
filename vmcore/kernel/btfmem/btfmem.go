// Package btfmem loads the kernel's own BTF type information out of a dump's
// memory: vmlinux BTF between __start_BTF and __stop_BTF (kernel/bpf/sysfs_btf.c
// exposes the same bytes as /sys/kernel/btf/vmlinux) and split module BTF
// (struct btf.data of each entry of btf_modules, kernel/bpf/btf.c).
//
// The bytes come from a possibly corrupt dump, so Parse checks the whole blob
// once (bounds, kinds, references, strings, decl tags) and decodes nothing.
// A type is decoded into github.com/cilium/ebpf/btf values on first use,
// together with the types it refers to that were not decoded yet, by an
// iterative walk: a report touches a few hundred of vmlinux's ~100k types,
// and no blob, however deep its types nest, can exhaust the stack.
package btfmem

import (
	"errors"
	"fmt"
	"runtime"
	"sync"

	"github.com/panicscope/panicscope/vmcore/vmem"
)

// MaxBlob bounds a BTF blob read from memory. vmlinux BTF of a distribution
// kernel is 4–6 MiB.
const MaxBlob = 64 << 20

// ErrBadBTF is wrapped by every error about the blob's content (as opposed to
// a read fault, which stays a *vmem.FaultError).
var ErrBadBTF = errors.New("invalid BTF")

// Read copies [start, stop) out of memory. A fault names the first missing
// page.
func Read(mem vmem.Reader, start, stop uint64) ([]byte, error) {
	if start >= stop {
		return nil, fmt.Errorf("btfmem: empty range %#x-%#x: %w", start, stop, ErrBadBTF)
	}
	if stop-start > MaxBlob {
		return nil, fmt.Errorf("btfmem: range %#x-%#x is %d bytes, over the %d limit: %w",
			start, stop, stop-start, MaxBlob, ErrBadBTF)
	}
	blob := make([]byte, stop-start)
	if readParallel(mem, blob, start) == nil {
		return blob, nil
	}
	// Again page by page, to say which page is missing.
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

// readParallel fills blob from start in a few page-aligned pieces read at
// once: pages of a compressed dump are decompressed one by one, and vmlinux
// BTF is a thousand of them. vmem.Readers are safe for concurrent use.
func readParallel(mem vmem.Reader, blob []byte, start uint64) error {
	const minPiece = 256 << 10
	n := min(runtime.GOMAXPROCS(0), 4, len(blob)/minPiece)
	if n <= 1 {
		return mem.ReadVirt(blob, start)
	}
	piece := (len(blob)/n + 4095) &^ 4095
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		lo := i * piece
		hi := min(lo+piece, len(blob))
		if lo >= hi {
			break
		}
		wg.Go(func() { errs[i] = mem.ReadVirt(blob[lo:hi], start+uint64(lo)) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Load reads and parses vmlinux BTF from [start, stop), normally the
// addresses of __start_BTF and __stop_BTF.
func Load(mem vmem.Reader, start, stop uint64) (*Spec, error) {
	blob, err := Read(mem, start, stop)
	if err != nil {
		return nil, err
	}
	return Parse(blob)
}

// LoadSplit reads and parses split BTF of size bytes at addr (a module's
// struct btf.data/data_size, or struct module.btf_data/btf_data_size before
// do_init_module() clears it) on top of base, normally the vmlinux Spec
// returned by Load. The result resolves only the module's own types by name;
// references into base work.
func LoadSplit(mem vmem.Reader, addr, size uint64, base *Spec) (*Spec, error) {
	if size == 0 || addr+size < addr {
		return nil, fmt.Errorf("btfmem: split BTF %#x+%d: %w", addr, size, ErrBadBTF)
	}
	blob, err := Read(mem, addr, addr+size)
	if err != nil {
		return nil, err
	}
	return ParseSplit(blob, base)
}
