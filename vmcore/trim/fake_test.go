package trim_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/panicscope/panicscope/internal/fakeprog"
	"github.com/panicscope/panicscope/vmcore"
	"github.com/panicscope/panicscope/vmcore/analysis"
	"github.com/panicscope/panicscope/vmcore/printk"
	"github.com/panicscope/panicscope/vmcore/target"
	"github.com/panicscope/panicscope/vmcore/trim"
	"github.com/panicscope/panicscope/vmcore/unwind"
)

// These tests trim fake kernels (internal/fakeprog) and open the copies:
// the report must be the same but for trim.ContainerFields, and memory
// the analysis did not read must not be in the copy.

// fakeDump writes s with a page of "user memory" nobody reads and
// returns the dump's path and that page's physical address.
func fakeDump(t *testing.T, k *fakeprog.Kernel) (string, uint64) {
	t.Helper()
	secret := k.AllocPhys(fakeprog.PageSize, fakeprog.PageSize)
	k.WritePhys(secret, bytes.Repeat([]byte("user secret "), 300))
	p := filepath.Join(t.TempDir(), "vmcore")
	if err := k.WriteFile(p); err != nil {
		t.Fatal(err)
	}
	return p, secret
}

type view struct {
	report *analysis.Report
	log    *printk.Log
	bts    []string
}

func look(t *testing.T, path string, opt target.Options) view {
	t.Helper()
	tg, err := target.Open(path, opt)
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	v := view{report: analysis.Build(tg)} // runs every stage
	if v.log, err = tg.Log(); err != nil {
		t.Fatalf("%s: log: %v", path, err)
	}
	u, err := unwind.NewKernel(tg.Dump.Arch(), tg.Kernel, tg.Syms, val(v.report.Kernel.Release))
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range tg.Dump.CPUs {
		ct := u.UnwindCPU(i, c.Regs)
		v.bts = append(v.bts, fmt.Sprint(ct.Functions(false), ct.End))
	}
	return v
}

func sameAnalysis(t *testing.T, src, out string, opt target.Options) view {
	t.Helper()
	a, b := look(t, src, opt), look(t, out, target.Options{})
	diffs, err := trim.Differences(a.report, b.report)
	if err != nil {
		t.Fatal(err)
	}
	if len(diffs) > 0 {
		t.Errorf("reports differ outside the container fields at %v", diffs)
	}
	if len(a.report.Chains) == 0 || val(a.report.Panic.Message) != fakeprog.PanicMessage {
		t.Fatalf("the source report is empty: %+v", a.report.Panic)
	}
	if !reflect.DeepEqual(a.log, b.log) {
		t.Errorf("kernel logs differ: %d vs %d records", len(a.log.Records), len(b.log.Records))
	}
	if !reflect.DeepEqual(a.bts, b.bts) || !strings.Contains(a.bts[fakeprog.PanicCPU], "panic") {
		t.Errorf("backtraces differ:\n%v\n%v", a.bts, b.bts)
	}
	return b
}

func inDump(t *testing.T, path string, pa uint64) bool {
	t.Helper()
	tg, err := target.Open(path, target.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	return tg.Dump.ReadPhys(make([]byte, 16), pa) == nil
}

func TestFakeTrimReopens(t *testing.T) {
	src, secret := fakeDump(t, fakeprog.NewScenario().Kernel)
	out := filepath.Join(t.TempDir(), "trimmed")
	res, err := trim.File(context.Background(), src, out, trim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Problems) > 0 {
		t.Errorf("problems: %v", res.Problems)
	}
	if st, err := os.Stat(out); err != nil || st.Size() != res.Bytes {
		t.Fatalf("copy: %v, result says %d bytes", err, res.Bytes)
	}
	if res.KeptPages == 0 || uint64(res.KeptPages) >= res.SourcePages {
		t.Errorf("kept %d of %d pages", res.KeptPages, res.SourcePages)
	}
	if res.VMCOREINFOFrom != "the source's VMCOREINFO ELF note" {
		t.Errorf("VMCOREINFO from %q", res.VMCOREINFOFrom)
	}
	b := sameAnalysis(t, src, out, target.Options{})
	id := b.report.Identity
	if id.Format != string(vmcore.FormatKdumpCompressed) || !id.Filtered || id.DumpLevel != trim.DumpLevel || id.Compression != "zlib" {
		t.Errorf("copy identity: %s %s filtered %v level %d", id.Format, id.Compression, id.Filtered, id.DumpLevel)
	}
	if !inDump(t, src, secret) || inDump(t, out, secret) {
		t.Errorf("an unread page: in the source %v, in the copy %v", inDump(t, src, secret), inDump(t, out, secret))
	}

	// A kdump-compressed source (the copy) trims again to the same.
	again := filepath.Join(t.TempDir(), "again")
	res2, err := trim.File(context.Background(), out, again, trim.Options{Compression: "zstd"})
	if err != nil {
		t.Fatal(err)
	}
	if res2.KeptPages > res.KeptPages || res2.VMCOREINFOFrom != "the source's kdump header" {
		t.Errorf("second trim kept %d pages (first %d), VMCOREINFO from %q", res2.KeptPages, res.KeptPages, res2.VMCOREINFOFrom)
	}
	c := sameAnalysis(t, out, again, target.Options{})
	if c.report.Identity.Compression != "zstd" {
		t.Errorf("compression %q, want zstd", c.report.Identity.Compression)
	}
}

// A System.map given for the analysis: the copy keeps what both runs
// read, so it opens the same with or without the file.
func TestFakeTrimWithSymbolsFileAndExtra(t *testing.T) {
	s := fakeprog.NewScenario()
	src, secret := fakeDump(t, s.Kernel)
	sm := filepath.Join(t.TempDir(), "System.map")
	if err := os.WriteFile(sm, []byte(s.SystemMap()), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "trimmed")
	extraRan := 0
	opt := trim.Options{Target: target.Options{SymbolsFile: sm}, Extra: func(tg *target.Target) {
		extraRan++
		// A page a view needs besides the report is kept too.
		_ = tg.Dump.ReadVirt(make([]byte, 8), fakeprog.Phys(secret))
	}}
	if _, err := trim.File(context.Background(), src, out, opt); err != nil {
		t.Fatal(err)
	}
	if extraRan != 2 {
		t.Errorf("Extra ran %d times, want once per analysis (2)", extraRan)
	}
	sameAnalysis(t, src, out, target.Options{})
	if !inDump(t, out, secret) {
		t.Errorf("a page read by Extra is not in the copy")
	}
}

// A dump whose VMCOREINFO was found by scanning memory: the copy stores
// the scanned text in its header, and keeps the page it came from.
func TestFakeTrimScannedVMCOREINFO(t *testing.T) {
	s := fakeprog.NewScenario()
	s.NoVMCOREINFO, s.VMCOREINFOInMemory = true, true
	src, _ := fakeDump(t, s.Kernel)
	out := filepath.Join(t.TempDir(), "trimmed")
	res, err := trim.File(context.Background(), src, out, trim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(res.VMCOREINFOFrom, "memory scan") {
		t.Errorf("VMCOREINFO from %q", res.VMCOREINFOFrom)
	}
	a := look(t, src, target.Options{})
	if !strings.HasPrefix(a.report.Identity.VMCOREINFOSource, vmcore.InfoFromMemoryScan) {
		t.Fatalf("source VMCOREINFO from %q", a.report.Identity.VMCOREINFOSource)
	}
	sameAnalysis(t, src, out, target.Options{})
}

// The variables crash and makedumpfile need to start (node_online_map,
// the mem_section roots) are kept although the analysis does not read them.
func TestFakeTrimKeepsToolVariables(t *testing.T) {
	s := fakeprog.NewScenario()
	nodes := s.Data("node_online_map", 8, 8)
	s.PutU64(nodes, 1)
	roots := s.Data("mem_section", 8*4, 8)
	section := s.Alloc(fakeprog.PageSize, fakeprog.PageSize)
	s.PutU64(section, 0xabcdef)
	s.PutU64(roots, section)
	s.ExtraInfo = append(s.ExtraInfo,
		fmt.Sprintf("SYMBOL(node_online_map)=%x", nodes), "SIZE(nodemask_t)=8",
		fmt.Sprintf("SYMBOL(mem_section)=%x", roots), "LENGTH(mem_section)=4", "SIZE(mem_section)=16")
	src, _ := fakeDump(t, s.Kernel)
	out := filepath.Join(t.TempDir(), "trimmed")
	if _, err := trim.File(context.Background(), src, out, trim.Options{}); err != nil {
		t.Fatal(err)
	}
	tg, err := target.Open(out, target.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	for _, va := range []uint64{nodes, roots, section} {
		if err := tg.Dump.ReadVirt(make([]byte, 8), va); err != nil {
			t.Errorf("%#x not kept: %v", va, err)
		}
	}
}

func TestFakeTrimRefuses(t *testing.T) {
	dir := t.TempDir()
	notDump := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(notDump, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := trim.File(context.Background(), notDump, filepath.Join(dir, "out"), trim.Options{}); err == nil {
		t.Errorf("trimmed a text file")
	}
	src, _ := fakeDump(t, fakeprog.NewScenario().Kernel)
	if _, err := trim.File(context.Background(), src, filepath.Join(dir, "no", "such", "dir", "out"), trim.Options{}); err == nil {
		t.Errorf("wrote into a missing folder")
	}

	// A running system cannot be trimmed.
	root := t.TempDir()
	if err := fakeprog.NewScenario().WriteLiveTree(root, nil); err != nil {
		t.Fatal(err)
	}
	live, err := target.OpenLive(target.Options{LiveRoot: root})
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	if _, _, err := trim.Record(live, nil, trim.Options{}); err == nil || !strings.Contains(err.Error(), "running system") {
		t.Errorf("live trim: %v", err)
	}
}

// val is *p, or the zero value when p is nil (unknown).
func val[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
