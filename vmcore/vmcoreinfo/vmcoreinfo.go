// Package vmcoreinfo parses the kernel's VMCOREINFO text: the KEY=VALUE lines
// written by crash_save_vmcoreinfo_init() (kernel/crash_core.c) and
// arch_crash_save_vmcoreinfo() (arch/x86/kernel/machine_kexec_64.c).
package vmcoreinfo

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrNoKey is returned (wrapped) when a key is absent.
var ErrNoKey = errors.New("not in VMCOREINFO")

// Info is a parsed VMCOREINFO. The zero value is an empty set.
type Info struct {
	raw  string
	vals map[string]string
	keys []string // in text order, for display
}

// Parse reads VMCOREINFO text. Lines without '=' are ignored; the text may be
// NUL-padded (ELF note descriptors are).
func Parse(data []byte) (*Info, error) {
	if i := bytes.IndexByte(data, 0); i >= 0 {
		data = data[:i]
	}
	info := &Info{raw: string(data), vals: make(map[string]string)}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok || k == "" {
			continue
		}
		if _, dup := info.vals[k]; !dup {
			info.keys = append(info.keys, k)
		}
		info.vals[k] = v
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("vmcoreinfo: %w", err)
	}
	if _, ok := info.vals["OSRELEASE"]; !ok {
		return nil, errors.New("vmcoreinfo: no OSRELEASE line")
	}
	return info, nil
}

// Raw is the text as found.
func (i *Info) Raw() string { return i.raw }

// Keys lists the keys in text order.
func (i *Info) Keys() []string { return append([]string(nil), i.keys...) }

// Get returns the raw value of key.
func (i *Info) Get(key string) (string, bool) {
	if i == nil {
		return "", false
	}
	v, ok := i.vals[key]
	return v, ok
}

// OSRelease is the kernel release (uname -r).
func (i *Info) OSRelease() string { v, _ := i.Get("OSRELEASE"); return v }

// BuildID is the GNU build ID of vmlinux, hex (Linux >= 5.9).
func (i *Info) BuildID() string { v, _ := i.Get("BUILD-ID"); return v }

// PageSize from PAGESIZE, or 0.
func (i *Info) PageSize() uint64 {
	v, _ := i.decimal("PAGESIZE")
	return uint64(v)
}

// Symbol is SYMBOL(name), a hex virtual address.
func (i *Info) Symbol(name string) (uint64, error) { return i.hex("SYMBOL(" + name + ")") }

// Offset is OFFSET(type.member), decimal.
func (i *Info) Offset(member string) (int64, error) { return i.decimal("OFFSET(" + member + ")") }

// Size is SIZE(type), decimal.
func (i *Info) Size(typ string) (int64, error) { return i.decimal("SIZE(" + typ + ")") }

// Length is LENGTH(name), decimal.
func (i *Info) Length(name string) (int64, error) { return i.decimal("LENGTH(" + name + ")") }

// Number is NUMBER(name), decimal (may be negative, e.g. phys_base).
func (i *Info) Number(name string) (int64, error) { return i.decimal("NUMBER(" + name + ")") }

// KernelOffset is the KASLR offset (KERNELOFFSET, hex), 0 when absent.
func (i *Info) KernelOffset() (uint64, bool) {
	v, err := i.hex("KERNELOFFSET")
	return v, err == nil
}

// CrashTime is CRASHTIME (seconds since the epoch), written at crash time
// by crash_save_vmcoreinfo(); absent in a copy found by scanning memory.
func (i *Info) CrashTime() (int64, bool) {
	v, err := i.decimal("CRASHTIME")
	return v, err == nil
}

func (i *Info) hex(key string) (uint64, error) {
	s, ok := i.Get(key)
	if !ok {
		return 0, fmt.Errorf("%s: %w", key, ErrNoKey)
	}
	v, err := strconv.ParseUint(strings.TrimPrefix(s, "0x"), 16, 64)
	if err != nil {
		return 0, fmt.Errorf("vmcoreinfo %s=%q: %w", key, s, err)
	}
	return v, nil
}

func (i *Info) decimal(key string) (int64, error) {
	s, ok := i.Get(key)
	if !ok {
		return 0, fmt.Errorf("%s: %w", key, ErrNoKey)
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("vmcoreinfo %s=%q: %w", key, s, err)
	}
	return v, nil
}
