package symbols

import (
	"errors"
	"strings"
	"sync"
	"testing"
)

func TestTableByAddrAndFormat(t *testing.T) {
	tab := New(SourceDWARF, []Symbol{
		{Name: "b_func", Addr: 0xffffffff81000100, Type: 'T'},
		{Name: "a_alias", Addr: 0xffffffff81000100, Type: 't'}, // alias: first given wins
		{Name: "_text", Addr: 0xffffffff81000000, Type: 'T'},
		{Name: "sized", Addr: 0xffffffff81000200, Size: 0x10, Type: 'T'},
		{Name: "pcpu", Addr: 0x1000, Type: 'A'},
		{Name: "pcpu_last", Addr: 0x2000, Type: 'A'},
		{Name: "_end", Addr: 0xffffffff81001000, Type: 'B'},
	})
	if tab.Len() != 7 || tab.Source() != SourceDWARF || tab.Encoding() != "" {
		t.Fatalf("Len %d Source %q", tab.Len(), tab.Source())
	}
	cases := []struct {
		addr uint64
		want string
	}{
		{0xffffffff81000000, "_text+0x0/0x100"},
		{0xffffffff810000ff, "_text+0xff/0x100"},
		{0xffffffff81000100, "b_func+0x0/0x100"},
		{0xffffffff81000180, "b_func+0x80/0x100"},
		{0xffffffff81000205, "sized+0x5/0x10"},
		{0xffffffff81000210, "0xffffffff81000210"}, // past a known size
		{0xffffffff81001000, "_end+0x0"},           // last: size unknown
		{0xffffffff81001001, "0xffffffff81001001"},
		{0x1800, "pcpu+0x800/0x1000"},
		{0x2000, "pcpu_last+0x0"},                  // gap to text > MaxInferredSize
		{0xffff888000000000, "0xffff888000000000"}, // direct map: not a symbol
		{0x10, "0x10"},
	}
	for _, c := range cases {
		if got := tab.Format(c.addr); got != c.want {
			t.Errorf("Format(%#x) = %q, want %q", c.addr, got, c.want)
		}
	}
	s, off, ok := tab.ByAddr(0xffffffff81000104)
	if !ok || s.Name != "b_func" || off != 4 || s.Size != 0x100 {
		t.Errorf("ByAddr = %+v %d %v", s, off, ok)
	}
}

func TestTableModules(t *testing.T) {
	tab := New(SourceKallsyms, []Symbol{
		{Name: "_text", Addr: 0xffffffff81000000, Type: 'T'},
		{Name: "printk", Addr: 0xffffffff81000100, Type: 'T'},
		{Name: "_end", Addr: 0xffffffff83000000, Type: 'B'},
	})
	tab.AddModule("labpanic", []Symbol{
		{Name: "labpanic_do_panic", Addr: 0xffffffffc0001010, Type: 't'},
		{Name: "labpanic_init", Addr: 0xffffffffc0001000, Type: 't'},
		{Name: "printk", Addr: 0xffffffffc0002000, Size: 8, Type: 'd'}, // same name as vmlinux
	})
	tab.AddModule("pvpanic", []Symbol{{Name: "pvpanic_panic_notify", Addr: 0xffffffffc0010000, Size: 0x30, Type: 't'}})
	if got := tab.Format(0xffffffffc0001012); got != "labpanic_do_panic+0x2/0xff0 [labpanic]" {
		t.Errorf("Format = %q", got)
	}
	if got := tab.Format(0xffffffffc0010010); got != "pvpanic_panic_notify+0x10/0x30 [pvpanic]" {
		t.Errorf("Format = %q", got)
	}
	if s, ok := tab.Lookup("printk"); !ok || s.Module != "" {
		t.Errorf("Lookup(printk) = %+v: vmlinux must win", s)
	}
	if all := tab.LookupAll("printk"); len(all) != 2 || all[1].Module != "labpanic" {
		t.Errorf("LookupAll = %+v", all)
	}
	if tab.Len() != 7 || strings.Join(tab.Modules(), ",") != "labpanic,pvpanic" {
		t.Errorf("Len %d Modules %v", tab.Len(), tab.Modules())
	}
	// Re-adding replaces.
	tab.AddModule("pvpanic", []Symbol{{Name: "pvpanic_probe", Addr: 0xffffffffc0010000, Type: 't'}})
	if _, ok := tab.Lookup("pvpanic_panic_notify"); ok || tab.Len() != 7 {
		t.Errorf("replace failed: Len %d", tab.Len())
	}
	// The vmlinux _end does not swallow module addresses.
	if _, _, ok := tab.ByAddr(0xffffffffc0000000); ok {
		t.Error("address before the first module symbol resolved")
	}
	// A zero Table accepts modules.
	var z Table
	z.AddModule("m", []Symbol{{Name: "f", Addr: 0x10, Size: 4, Type: 't'}})
	if got := z.Format(0x11); got != "f+0x1/0x4 [m]" {
		t.Errorf("zero table Format = %q", got)
	}
}

func TestTableConcurrent(t *testing.T) {
	syms := make([]Symbol, 10000)
	for i := range syms {
		syms[i] = Symbol{Name: "s" + strings.Repeat("x", i%5) + string(rune('a'+i%26)), Addr: 0xffffffff81000000 + uint64(i)*16, Type: 'T'}
	}
	tab := New(SourceKallsyms, syms)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				tab.Lookup(syms[(i*7+g)%len(syms)].Name)
				tab.ByAddr(0xffffffff81000000 + uint64(i)*13)
				if g == 0 && i%500 == 0 {
					tab.AddModule("m"+string(rune('0'+i/500)), []Symbol{{Name: "mf", Addr: 0xffffffffc0000000 + uint64(i)<<12}})
				}
			}
		}()
	}
	wg.Wait()
}

const sampleMap = `0000000000000000 D __per_cpu_start
0000000000000000 D fixed_percpu_data
00000000000001ea A kexec_control_code_size
0000000000001000 D cpu_debug_store
000000000001a030 D cpu_number
0000000001000000 A phys_startup_64
ffffffff81000000 T _text
ffffffff81000000 T startup_64
ffffffff81000000 T _stext
ffffffff81000070 T secondary_startup_64
ffffffff810a0000 t local_helper
ffffffff810a0100 t local_helper
ffffffff82bfb000 D init_uts_ns
ffffffff83044000 A init_per_cpu__fixed_percpu_data
ffffffff83400000 B _end
`

func TestParseSystemMap(t *testing.T) {
	const kaslr = 0x8e00000
	tab, err := ParseSystemMap(strings.NewReader(sampleMap), kaslr, "System.map-5.10.0-32-amd64")
	if err != nil {
		t.Fatal(err)
	}
	if tab.Source() != "System.map System.map-5.10.0-32-amd64" || tab.Len() != 15 {
		t.Fatalf("Source %q Len %d", tab.Source(), tab.Len())
	}
	for name, want := range map[string]uint64{
		"_stext":                          0xffffffff81000000 + kaslr,
		"init_uts_ns":                     0xffffffff82bfb000 + kaslr,
		"cpu_number":                      0x1a030, // per-CPU offsets stay
		"phys_startup_64":                 0x1000000,
		"init_per_cpu__fixed_percpu_data": 0xffffffff83044000 + kaslr,
	} {
		if s, ok := tab.Lookup(name); !ok || s.Addr != want {
			t.Errorf("%s = %#x %v, want %#x", name, s.Addr, ok, want)
		}
	}
	if all := tab.LookupAll("local_helper"); len(all) != 2 || all[0].Addr > all[1].Addr {
		t.Errorf("LookupAll = %+v", all)
	}
	if got := tab.Format(0xffffffff81000010 + kaslr); got != "_text+0x10/0x70" {
		t.Errorf("Format = %q", got)
	}
	// The same file read as runtime addresses (explicit flag).
	rt, err := ParseMap(strings.NewReader(sampleMap), MapOptions{KASLROffset: kaslr, Name: "x", Kind: MapRuntime})
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := rt.Lookup("_stext"); s.Addr != 0xffffffff81000000 || rt.Source() != SourceKallsymsCopy("x") {
		t.Errorf("runtime _stext = %#x, %q", s.Addr, rt.Source())
	}
}

func TestParseKallsymsCopy(t *testing.T) {
	const kaslr = 0x29200000
	text := `0000000000000000 A fixed_percpu_data
ffffffffaa200000 T _text
ffffffffaa200000 T _stext
ffffffffaa300000 T printk
ffffffffc0a01000 t labpanic_do_panic	[labpanic]
ffffffffc0a01100 t labpanic_notify_first	[labpanic]
ffffffffc0b00000 t pvpanic_panic_notify	[pvpanic]
`
	tab, err := ParseSystemMap(strings.NewReader(text), kaslr, "kallsyms.txt")
	if err != nil {
		t.Fatal(err)
	}
	if tab.Source() != SourceKallsymsCopy("kallsyms.txt") {
		t.Errorf("Source = %q", tab.Source())
	}
	if s, _ := tab.Lookup("printk"); s.Addr != 0xffffffffaa300000 {
		t.Errorf("printk = %#x", s.Addr)
	}
	if got := tab.Format(0xffffffffc0a01004); got != "labpanic_do_panic+0x4/0x100 [labpanic]" {
		t.Errorf("Format = %q", got)
	}
	// Without module lines, _text at the relocated address tells it apart.
	noMods := strings.Join(strings.Split(text, "\n")[:4], "\n")
	tab, err = ParseSystemMap(strings.NewReader(noMods), kaslr, "copy")
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := tab.Lookup("_stext"); s.Addr != 0xffffffffaa200000 || !strings.HasPrefix(string(tab.Source()), "/proc/kallsyms") {
		t.Errorf("_stext = %#x (%s)", s.Addr, tab.Source())
	}
}

func TestParseSystemMapErrors(t *testing.T) {
	zero := "0000000000000000 T _text\n0000000000000000 T printk\n0000000000000000 t x\t[mod]\n"
	if _, err := ParseSystemMap(strings.NewReader(zero), 0, "k"); !errors.Is(err, ErrZeroAddresses) {
		t.Errorf("all-zero: %v", err)
	}
	for _, bad := range []string{
		"", "\n\n", "ffffffff81000000 T\n", "zzzz T foo\n", "ffffffff81000000 TT foo\n",
		"ffffffff81000000 T foo bar baz\n", "1ffffffff81000000 T foo\n", "ffffffff81000000 T foo [mod\n",
		"ffffffff81000000 T " + strings.Repeat("x", 5000) + "\n",
	} {
		if _, err := ParseSystemMap(strings.NewReader(bad), 0x1000, "bad"); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}
