package x86

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/panicscope/panicscope/internal/testfixtures"
	"github.com/panicscope/panicscope/vmcore/internal/diskdump"
	"github.com/panicscope/panicscope/vmcore/vmcoreinfo"
	"github.com/panicscope/panicscope/vmcore/vmem"
)

// systemMap reads the fixture's System.map (link-time addresses).
func systemMap(t *testing.T, release string, names ...string) map[string]uint64 {
	t.Helper()
	f, err := os.Open(filepath.Join(testfixtures.Dir(t), "kernels", release, "System.map-"+release))
	if err != nil {
		t.Fatalf("System.map: %v", err)
	}
	defer f.Close()
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	out := map[string]uint64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) == 3 && want[fs[2]] {
			v, err := strconv.ParseUint(fs[0], 16, 64)
			if err != nil {
				t.Fatal(err)
			}
			out[fs[2]] = v
		}
	}
	for _, n := range names {
		if _, ok := out[n]; !ok {
			t.Fatalf("System.map-%s has no %s", release, n)
		}
	}
	return out
}

func drgnFact(fx testfixtures.Fixture, key string) any {
	m, _ := fx.Meta.Raw["expected_from_memory_drgn"].(map[string]any)
	return m[key]
}

// TestRealDumps translates through the page tables of real dumps: config
// from VMCOREINFO, init_uts_ns release and page_offset_base read, the cached
// translation checked against the walk, and the image range past _end not
// answered where the page tables do not map it.
func TestRealDumps(t *testing.T) {
	for _, name := range []string{"qemu-6.1-sysrq", "qemu-6.1-lp-warn", "kdump-6.1-lzo", "qemu-5.10-sysrq", "qemu-6.12-sysrq"} {
		t.Run(name, func(t *testing.T) {
			fx := testfixtures.Get(t, name)
			fh, err := os.Open(filepath.Join(fx.Dir, "vmcore"))
			if err != nil {
				t.Skipf("fixture: %v", err)
			}
			defer fh.Close()
			st, err := fh.Stat()
			if err != nil {
				t.Fatal(err)
			}
			dd, err := diskdump.Open(fh, st.Size())
			if err != nil {
				t.Fatal(err)
			}
			info, err := vmcoreinfo.Parse(dd.VMCOREINFO())
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := ConfigFromVMCOREINFO(dd, info)
			if err != nil {
				t.Fatal(err)
			}
			wantLevels := 4
			if l5, _ := drgnFact(fx, "pgtable_l5_enabled").(bool); l5 {
				wantLevels = 5
			}
			if cfg.Levels != wantLevels {
				t.Errorf("Levels = %d, want %d", cfg.Levels, wantLevels)
			}
			// No SYMBOL(page_offset_base) in these dumps: found by FindPageOffset.
			if want, _ := drgnFact(fx, "page_offset_base").(string); fmt.Sprintf("%#x", cfg.PageOffset) != want {
				t.Errorf("PageOffset = %#x, drgn read %s", cfg.PageOffset, want)
			}

			release := info.OSRelease()
			sm := systemMap(t, release, "page_offset_base", "_text", "_end")
			kaslr, _ := info.KernelOffset()
			utsVA, err := info.Symbol("init_uts_ns")
			if err != nil {
				t.Fatal(err)
			}
			nameOff, err := info.Offset("uts_namespace.name")
			if err != nil {
				nameOff = 4 // before 5.11 VMCOREINFO lacks it: name follows struct kref
			}
			tr, err := New(dd, cfg)
			if err != nil {
				t.Fatal(err)
			}
			// struct new_utsname {sysname[65], nodename[65], release[65], ...}
			rel, err := vmem.ReadCString(tr, utsVA+uint64(nameOff)+65*2, 65)
			if err != nil || rel != release {
				t.Errorf("init_uts_ns release = %q, %v; want %q", rel, err, release)
			}
			pob, err := vmem.ReadU64(tr, sm["page_offset_base"]+kaslr)
			if err != nil || pob != cfg.PageOffset {
				t.Errorf("page_offset_base = %#x, %v; want %#x", pob, err, cfg.PageOffset)
			}

			// The cached translation agrees with a fresh walk on every
			// mapped page of the image and on the direct map of every
			// dumped range.
			agree := func(va uint64) bool {
				w, err := tr.Translate(va)
				if err != nil {
					return false
				}
				if f, err := tr.VirtToPhys(va); err != nil || f != w {
					t.Fatalf("%#x: walk %#x, fast path %#x %v", va, w, f, err)
				}
				return true
			}
			text := 0
			for va := sm["_text"] + kaslr; va < sm["_end"]+kaslr; va += pageSize {
				if agree(va) {
					text++
				}
			}
			direct := 0
			for _, r := range dd.Ranges() {
				for pa := r.Start &^ (pageSize - 1); pa < r.End; pa += 16 * pageSize {
					if agree(cfg.PageOffset + pa) {
						direct++
					}
				}
			}
			// Module text (MODULES_VADDR, past the image) is only reachable by walking.
			if mods, _ := drgnFact(fx, "modules").([]any); len(mods) > 0 {
				m, _ := mods[0].(map[string]any)
				base, _ := strconv.ParseUint(strings.TrimPrefix(fmt.Sprint(m["base"]), "0x"), 16, 64)
				if cfg.KernelImageSize != 0 && base < StartKernelMap+cfg.KernelImageSize {
					t.Errorf("module %v at %#x is inside the image range", m["name"], base)
				}
				if err := tr.ReadVirt(make([]byte, 64), base); err != nil {
					t.Errorf("module %v at %#x: %v", m["name"], base, err)
				}
			}
			if text == 0 || direct == 0 {
				t.Errorf("nothing compared: %d text pages, %d direct-map samples", text, direct)
			}
			// Past _end: every page of the first 2 MiB after it, then one
			// per 2 MiB up to the end of the image range. Where the walk
			// says not mapped, reads fault; before, __pa() arithmetic
			// answered for them (kdump-6.1-lzo: 0xffffffff88200000 on,
			// which crash reports "not present").
			imageEnd := StartKernelMap + 1<<30
			if cfg.KernelImageSize != 0 {
				imageEnd = StartKernelMap + cfg.KernelImageSize
			}
			unmapped, arithmeticHad := 0, 0
			end := sm["_end"] + kaslr
			for va := end &^ (pageSize - 1); va < imageEnd; {
				if _, werr := tr.Translate(va); werr != nil {
					unmapped++
					if _, err := tr.VirtToPhys(va); err == nil || tr.ReadVirt(make([]byte, 8), va) == nil {
						t.Fatalf("%#x: not mapped by the page tables (%v) but translated", va, werr)
					}
					if dd.ReadPhys(make([]byte, 8), KernelTextToPhys(va, cfg.PhysBase)) == nil {
						arithmeticHad++
					}
				} else {
					agree(va)
				}
				if va < end+2<<20 {
					va += pageSize
				} else {
					va = (va + 2<<20) &^ (2<<20 - 1)
				}
			}
			if unmapped == 0 {
				t.Errorf("no unmapped address in the image range past _end %#x", end)
			}
			t.Logf("past _end %#x: %d sampled addresses not mapped, %d of which __pa() would have read from a dumped page", end, unmapped, arithmeticHad)
			if name == "kdump-6.1-lzo" {
				if _, err := tr.VirtToPhys(0xffffffff88200000); !errors.Is(err, vmem.ErrNotMapped) {
					t.Errorf("0xffffffff88200000: %v, want not mapped (crash: not present)", err)
				}
			}
			t.Logf("%d-level, phys_base %#x, page_offset_base %#x: %d image pages and %d direct-map samples agree with the walk",
				cfg.Levels, cfg.PhysBase, cfg.PageOffset, text, direct)
		})
	}
}
