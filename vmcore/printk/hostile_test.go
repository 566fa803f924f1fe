package printk

import (
	"github.com/panicscope/panicscope/vmcore/vmem"
	"regexp"
	"testing"

	"github.com/panicscope/panicscope/vmcore/vmcoreinfo"
)

// hostileValues are VMCOREINFO numbers whose sums with other offsets
// overflow int64 or point far outside any structure.
var hostileValues = []string{"9223372036854775800", "9223372036854775807", "4611686018427387904", "-9223372036854775808", "-1", "4097", "2147483648"}

var numberLine = regexp.MustCompile(`(?m)^((?:OFFSET|SIZE|LENGTH)\([^)]*\))=(-?\d+)$`)

// eachHostileInfo calls fn with the VMCOREINFO text where one OFFSET, SIZE or
// LENGTH line at a time holds one of hostileValues.
func eachHostileInfo(t *testing.T, text string, minLines int, fn func(name string, info *vmcoreinfo.Info)) {
	t.Helper()
	lines := numberLine.FindAllStringSubmatchIndex(text, -1)
	if len(lines) < minLines {
		t.Fatalf("only %d number lines in the test VMCOREINFO", len(lines))
	}
	for _, m := range lines {
		key := text[m[2]:m[3]]
		for _, v := range hostileValues {
			mod := text[:m[4]] + v + text[m[5]:]
			info, err := vmcoreinfo.Parse([]byte(mod))
			if err != nil {
				continue
			}
			fn(key+"="+v, info)
		}
	}
}

// TestHostileRingLayout: every ring-buffer OFFSET/SIZE/LENGTH set to a value
// near ±2^63 (or just out of a structure) gives an error or a log, never a
// panic (the bounds checks used to overflow).
func TestHostileRingLayout(t *testing.T) {
	r := newTestRing(4, 10)
	for i := 0; i < 12; i++ {
		r.add(tRec{text: filler(i, 20), flags: LogNewline})
	}
	mem := r.fake(nil, nil)
	eachHostileInfo(t, r.vmcoreinfo(), 20, func(name string, info *vmcoreinfo.Info) {
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Errorf("%s: panic: %v", name, p)
				}
			}()
			if l, err := Read(mem, info); err == nil {
				checkLog(t, l)
			}
		}()
	})
}

// TestHostileLegacyLayout is the same for struct printk_log.
func TestHostileLegacyLayout(t *testing.T) {
	lb := newLegacyBuf(512, true)
	for i := 0; i < 8; i++ {
		lb.add(filler(i, 12), "", uint64(i), 6, LogNewline, 1)
	}
	mem, info := lb.fake()
	eachHostileInfo(t, lb.vmcoreinfo(), 5, func(name string, hinfo *vmcoreinfo.Info) {
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Errorf("%s: panic: %v", name, p)
				}
			}()
			if l, err := Read(mem, hinfo); err == nil {
				checkLog(t, l)
			}
		}()
	})
	if _, err := Read(mem, info); err != nil {
		t.Fatalf("unmodified legacy log: %v", err)
	}
}

// FuzzLayout feeds hostile VMCOREINFO text (the OFFSET/SIZE/LENGTH lines
// that place every printk structure) to both readers over a fixed, valid
// ring and log_buf: an error or a consistent log, never a panic.
func FuzzLayout(f *testing.F) {
	r := newTestRing(4, 10)
	for i := 0; i < 12; i++ {
		r.add(tRec{text: filler(i, 20), flags: LogNewline})
	}
	mem := r.fake(nil, nil)
	f.Add(r.vmcoreinfo())
	r.v510 = true
	f.Add(r.vmcoreinfo())
	lb := newLegacyBuf(512, true)
	for i := 0; i < 8; i++ {
		lb.add(filler(i, 12), "", uint64(i), 6, LogNewline, 1)
	}
	lmem, _ := lb.fake()
	f.Add(lb.vmcoreinfo())
	f.Fuzz(func(t *testing.T, text string) {
		info, err := vmcoreinfo.Parse([]byte(text))
		if err != nil {
			return
		}
		for _, m := range []*vmem.Fake{mem, lmem} {
			if l, err := Read(m, info); err == nil {
				checkLog(t, l)
			}
		}
	})
}
