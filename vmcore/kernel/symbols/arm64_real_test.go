package symbols_test

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/panicscope/panicscope/internal/testfixtures"
	"github.com/panicscope/panicscope/vmcore"
	"github.com/panicscope/panicscope/vmcore/kernel/symbols"
)

// TestRealArm64Kallsyms: on the arm64 fixtures, kallsyms located through
// VMCOREINFO agrees with the kernel's System.map (moved by KERNELOFFSET)
// and with the memory scan older kernels need.
func TestRealArm64Kallsyms(t *testing.T) {
	fx := testfixtures.GetArm64(t, "qemu-arm64-6.12-sysrq")
	d, err := vmcore.Open(filepath.Join(fx.Dir, "vmcore"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	info := d.VMCOREINFO()
	ks, err := symbols.FromKallsyms(d, info)
	if err != nil {
		t.Fatal(err)
	}
	kaslr, _ := info.KernelOffset()
	p := filepath.Join(testfixtures.DirArm64(t), "kernels", fx.Meta.KernelRelease, "System.map-"+fx.Meta.KernelRelease)
	f, err := os.Open(p)
	if err != nil {
		t.Skipf("%v", err)
	}
	defer f.Close()
	sm, err := symbols.ParseSystemMap(f, kaslr, filepath.Base(p))
	if err != nil {
		t.Fatal(err)
	}
	// Per-CPU symbols sit below the image; arm64's image starts at _text,
	// the header 64 KiB before _stext.
	text, ok := ks.Lookup("_text")
	if !ok {
		t.Fatal("no _text")
	}
	compareSample(t, ks, sm, text.Addr)

	sc, err := symbols.ScanKallsymsInfo(d, info)
	if err != nil {
		t.Fatal(err)
	}
	var a, b []string
	for s := range ks.All() {
		a = append(a, fmt.Sprintf("%x %c %s", s.Addr, s.Type, s.Name))
	}
	for s := range sc.All() {
		b = append(b, fmt.Sprintf("%x %c %s", s.Addr, s.Type, s.Name))
	}
	sort.Strings(a)
	sort.Strings(b)
	if len(a) != len(b) {
		t.Fatalf("scan %d symbols, VMCOREINFO %d", len(b), len(a))
	}
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("first difference: %q vs %q", a[i], b[i])
		}
	}
}
