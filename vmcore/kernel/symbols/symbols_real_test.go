package symbols_test

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/panicscope/panicscope/internal/testfixtures"
	"github.com/panicscope/panicscope/vmcore"
	"github.com/panicscope/panicscope/vmcore/kernel/symbols"
)

// Tests against the real dumps in ../shared/vmcores (skipped when absent).

func openDump(t testing.TB, fixture, file string) *vmcore.Dump {
	t.Helper()
	fx := testfixtures.Get(t, fixture)
	p := filepath.Join(fx.Dir, file)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("%s: %v", p, err)
	}
	d, err := vmcore.Open(p)
	if err != nil {
		t.Fatalf("vmcore.Open(%s): %v", p, err)
	}
	t.Cleanup(func() { d.Close() })
	if d.VMCOREINFO() == nil {
		t.Fatalf("%s: no VMCOREINFO", p)
	}
	return d
}

func systemMap(t testing.TB, release string, kaslr uint64) *symbols.Table {
	t.Helper()
	p := filepath.Join(testfixtures.Dir(t), "kernels", release, "System.map-"+release)
	f, err := os.Open(p)
	if err != nil {
		t.Skipf("%v", err)
	}
	defer f.Close()
	tab, err := symbols.ParseSystemMap(f, kaslr, filepath.Base(p))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(tab.Source()), "System.map") {
		t.Fatalf("System.map taken for %q", tab.Source())
	}
	return tab
}

// kallsymsIgnores reports System.map symbols that scripts/kallsyms.c leaves
// out of kallsyms (is_ignored_symbol()): the kallsyms_* tables themselves,
// undefined ('U') and debugging ('N') symbols, and absolute ('A') ones.
func kallsymsIgnores(s symbols.Symbol) bool {
	switch s.Type {
	case 'A', 'a', 'U', 'u', 'N', 'n':
		return true
	}
	switch s.Name {
	case "kallsyms_addresses", "kallsyms_offsets", "kallsyms_relative_base", "kallsyms_num_syms",
		"kallsyms_names", "kallsyms_markers", "kallsyms_token_table", "kallsyms_token_index",
		"kallsyms_seqs_of_names":
		return true
	}
	return false
}

// compareSample checks 1000 System.map symbols, sampled at a fixed stride,
// against the kallsyms table. Duplicated names are skipped (which copy a
// lookup returns is not comparable). Per-CPU symbols are typed 'A' by
// kallsyms (make_percpus_absolute()), 'D'/'d'/'b' in System.map: only their
// addresses are compared.
func compareSample(t *testing.T, ks, sm *symbols.Table, text uint64) {
	t.Helper()
	count := map[string]int{}
	var cand []symbols.Symbol
	for s := range sm.All() {
		count[s.Name]++
	}
	for s := range sm.All() {
		if count[s.Name] == 1 && !kallsymsIgnores(s) {
			cand = append(cand, s)
		}
	}
	if len(cand) < 1000 {
		t.Fatalf("only %d candidates", len(cand))
	}
	stride := len(cand) / 1000
	checked, percpu := 0, 0
	for i := 0; i < 1000; i++ {
		want := cand[i*stride]
		all := ks.LookupAll(want.Name)
		if len(all) != 1 {
			t.Errorf("%s: kallsyms has %d copies", want.Name, len(all))
			continue
		}
		got := all[0]
		if got.Addr != want.Addr {
			t.Errorf("%s: kallsyms %#x, System.map %#x", want.Name, got.Addr, want.Addr)
			continue
		}
		if want.Addr < text {
			percpu++
			if got.Type != 'A' {
				t.Errorf("%s: per-CPU symbol typed %c in kallsyms", want.Name, got.Type)
			}
		} else if got.Type != want.Type {
			t.Errorf("%s: type %c, System.map %c", want.Name, got.Type, want.Type)
		}
		checked++
	}
	t.Logf("compared %d sampled symbols (%d per-CPU) of %d candidates; kallsyms %d symbols, System.map %d",
		checked, percpu, len(cand), ks.Len(), sm.Len())

	// Everything kallsyms has is in System.map at the same address, except
	// local labels: 5.10's scripts/kallsyms.c keeps ".L*" symbols (e.g.
	// ".LC0" string literals) that scripts/mksysmap filters out of
	// System.map with grep -v ' \.L'.
	missing, labels := 0, 0
	for s := range ks.All() {
		found := false
		for _, m := range sm.LookupAll(s.Name) {
			if m.Addr == s.Addr {
				found = true
				break
			}
		}
		switch {
		case found:
		case strings.HasPrefix(s.Name, ".L"):
			labels++
		default:
			if missing < 5 {
				t.Errorf("kallsyms %s %#x not in System.map", s.Name, s.Addr)
			}
			missing++
		}
	}
	if missing > 0 {
		t.Errorf("%d kallsyms symbols not in System.map", missing)
	}
	if labels > 0 {
		t.Logf("%d kallsyms local labels (.L*) not in System.map (expected: mksysmap drops them)", labels)
	}
}

func TestRealFromKallsyms61(t *testing.T) {
	for _, c := range []struct{ fixture, file string }{
		{"qemu-6.1-sysrq", "vmcore"},
		{"kdump-6.1-lzo", "vmcore"},
		{"kdump-6.1-zlib-postnotifiers", "vmcore"},
		{"qemu-6.1-lp-warn", "vmcore"}, // 5-level paging
	} {
		t.Run(c.fixture, func(t *testing.T) {
			d := openDump(t, c.fixture, c.file)
			info := d.VMCOREINFO()
			start := time.Now()
			ks, err := symbols.FromKallsyms(d, info)
			if err != nil {
				t.Fatal(err)
			}
			s, ok := ks.Lookup("init_uts_ns")
			elapsed := time.Since(start)
			if !ok {
				t.Fatal("no init_uts_ns")
			}
			want, _ := info.Symbol("init_uts_ns")
			if s.Addr != want {
				t.Fatalf("init_uts_ns %#x, VMCOREINFO %#x", s.Addr, want)
			}
			t.Logf("%d symbols, %s, %v to first lookup", ks.Len(), ks.Encoding(), elapsed)
			if n, err := ks.Verify(info); err != nil || n < 3 {
				t.Errorf("Verify: %d, %v", n, err)
			}
			kaslr, _ := info.KernelOffset()
			sm := systemMap(t, "6.1.0-56-amd64", kaslr)
			if n, err := sm.Verify(info); err != nil || n < 3 {
				t.Errorf("System.map Verify: %d, %v", n, err)
			}
			stext, _ := info.Symbol("_stext")
			compareSample(t, ks, sm, stext)
			// A kernel text address formats like the kernel's %pS.
			p, _ := ks.Lookup("panic")
			if got := ks.Format(p.Addr + 0x10); !strings.HasPrefix(got, "panic+0x10/0x") {
				t.Errorf("Format = %q", got)
			}
		})
	}
}

func TestRealFromKallsyms612(t *testing.T) {
	d := openDump(t, "qemu-6.12-sysrq", "vmcore")
	info := d.VMCOREINFO()
	ks, err := symbols.FromKallsyms(d, info)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d symbols, %s", ks.Len(), ks.Encoding())
	kaslr, _ := info.KernelOffset()
	sm := systemMap(t, "6.12.117+deb13-amd64", kaslr)
	stext, _ := info.Symbol("_stext")
	compareSample(t, ks, sm, stext)
}

func TestRealScanKallsyms510(t *testing.T) {
	d := openDump(t, "qemu-5.10-sysrq", "vmcore")
	info := d.VMCOREINFO()
	if _, err := symbols.FromKallsyms(d, info); err == nil {
		t.Fatal("5.10 VMCOREINFO unexpectedly locates kallsyms")
	}
	stext, err := info.Symbol("_stext")
	if err != nil {
		t.Fatal(err)
	}
	kaslr, _ := info.KernelOffset()
	start := time.Now()
	ks, err := symbols.ScanKallsyms(d, stext, 0, kaslr)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("scan: %d symbols, %s, %v", ks.Len(), ks.Encoding(), time.Since(start))
	if ks.Source() != symbols.SourceKallsymsScan {
		t.Errorf("Source %q", ks.Source())
	}
	for _, name := range []string{"_stext", "init_uts_ns"} {
		want, _ := info.Symbol(name)
		if s, ok := ks.Lookup(name); !ok || s.Addr != want {
			t.Errorf("%s = %#x, VMCOREINFO %#x", name, s.Addr, want)
		}
	}
	if n, err := ks.Verify(info); err != nil || n < 3 {
		t.Errorf("Verify: %d, %v", n, err)
	}
	sm := systemMap(t, "5.10.0-32-amd64", kaslr)
	compareSample(t, ks, sm, stext)

	d2 := openDump(t, "qemu-5.10-sysrq", "vmcore") // no pages cached yet
	start = time.Now()
	ks2, err := symbols.ScanKallsymsInfo(d2, info)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("ScanKallsymsInfo (backwards from init_uts_ns): %v", time.Since(start))
	if ks2.Len() != ks.Len() {
		t.Errorf("ScanKallsymsInfo: %d symbols, ScanKallsyms %d", ks2.Len(), ks.Len())
	}
}

// The scan also finds the 6.1 and 6.12 tables (two more write_src() layouts:
// kallsyms_seqs_of_names between markers and token table; offsets after
// token index) and agrees with the VMCOREINFO route symbol for symbol.
func TestRealScanKallsymsNewer(t *testing.T) {
	for _, fixture := range []string{"qemu-6.1-sysrq", "qemu-6.12-sysrq"} {
		t.Run(fixture, func(t *testing.T) {
			d := openDump(t, fixture, "vmcore")
			info := d.VMCOREINFO()
			ks, err := symbols.FromKallsyms(d, info)
			if err != nil {
				t.Fatal(err)
			}
			sc, err := symbols.ScanKallsymsInfo(d, info)
			if err != nil {
				t.Fatal(err)
			}
			if sc.Len() != ks.Len() {
				t.Fatalf("scan %d symbols, VMCOREINFO %d", sc.Len(), ks.Len())
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
			for i := range a {
				if a[i] != b[i] {
					t.Fatalf("first difference: %q vs %q", a[i], b[i])
				}
			}
		})
	}
}

// BenchmarkFromKallsyms: building the table from the compressed 6.1 dump and
// one lookup. "cold" opens the dump afresh each time (open not timed), so no
// page is cached yet; "warm" reuses one open dump.
func BenchmarkFromKallsyms(b *testing.B) {
	fx := testfixtures.Get(b, "qemu-6.1-sysrq")
	p := filepath.Join(fx.Dir, "vmcore")
	run := func(b *testing.B, d *vmcore.Dump) {
		ks, err := symbols.FromKallsyms(d, d.VMCOREINFO())
		if err != nil {
			b.Fatal(err)
		}
		if _, ok := ks.Lookup("init_uts_ns"); !ok {
			b.Fatal("no init_uts_ns")
		}
	}
	b.Run("cold", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			d, err := vmcore.Open(p)
			if err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			run(b, d)
			b.StopTimer()
			d.Close()
			b.StartTimer()
		}
	})
	b.Run("warm", func(b *testing.B) {
		d, err := vmcore.Open(p)
		if err != nil {
			b.Fatal(err)
		}
		defer d.Close()
		for b.Loop() {
			run(b, d)
		}
	})
}
