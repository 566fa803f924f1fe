package vmcore

import (
	"bytes"
	"fmt"
)

// UTSName is the kernel's struct new_utsname (include/uapi/linux/utsname.h).
type UTSName struct {
	Sysname, Nodename, Release, Version, Machine, Domainname string
}

const utsLen = 65 // __NEW_UTS_LEN + 1

// UTSName reads init_uts_ns.name through VMCOREINFO's SYMBOL(init_uts_ns)
// and OFFSET(uts_namespace.name) (kernel/crash_core.c), so it works before
// any symbol table or type information is loaded.
func (d *Dump) UTSName() (UTSName, error) {
	if d.info == nil {
		return UTSName{}, fmt.Errorf("utsname: %w", ErrNoTranslation)
	}
	addr, err := d.info.Symbol("init_uts_ns")
	if err != nil {
		return UTSName{}, fmt.Errorf("utsname: %w", err)
	}
	off, err := d.info.Offset("uts_namespace.name")
	if err != nil {
		// Older kernels lack the OFFSET line; name follows a kref (4 bytes) there.
		off = 4
	}
	var raw [utsLen * 6]byte
	if err := d.ReadVirt(raw[:], addr+uint64(off)); err != nil {
		return UTSName{}, fmt.Errorf("utsname: %w", err)
	}
	field := func(i int) string {
		b := raw[i*utsLen : (i+1)*utsLen]
		if j := bytes.IndexByte(b, 0); j >= 0 {
			b = b[:j]
		}
		return string(b)
	}
	return UTSName{field(0), field(1), field(2), field(3), field(4), field(5)}, nil
}
