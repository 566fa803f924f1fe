package arm64_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/panicscope/panicscope/internal/testfixtures"
	"github.com/panicscope/panicscope/vmcore"
	"github.com/panicscope/panicscope/vmcore/arm64"
)

// fixtureFiles lists every dump file of the arm64 fixtures: kdump-compressed
// as is, ELF cores decompressed (cached).
func fixtureFiles(t *testing.T) map[string]testfixtures.Fixture {
	t.Helper()
	out := map[string]testfixtures.Fixture{}
	for _, fx := range testfixtures.AllArm64(t) {
		for _, f := range fx.Meta.Files {
			p := filepath.Join(fx.Dir, f.Name)
			if _, err := os.Stat(p); err != nil {
				t.Errorf("%s: %v", fx.Name, err)
				continue
			}
			if strings.HasSuffix(p, ".zst") {
				p = testfixtures.Decompressed(t, p)
			}
			out[p] = fx
		}
	}
	return out
}

func drgnFacts(fx testfixtures.Fixture) map[string]any {
	m, _ := fx.Meta.Raw["expected_from_memory_drgn"].(map[string]any)
	return m
}

func hexOf(t *testing.T, v any) uint64 {
	t.Helper()
	s, _ := v.(string)
	n, err := strconv.ParseUint(strings.TrimPrefix(s, "0x"), 16, 64)
	if err != nil {
		t.Fatalf("meta.json value %v: %v", v, err)
	}
	return n
}

// TestFixturesIdentity: every arm64 dump file opens as aarch64 with the
// release, page size, VA bits in use, levels and KASLR offset drgn read
// from the same memory, and every CPU's registers.
func TestFixturesIdentity(t *testing.T) {
	for path, fx := range fixtureFiles(t) {
		t.Run(fx.Name+"/"+filepath.Base(path), func(t *testing.T) {
			d, err := vmcore.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			if d.Arch().Name() != "aarch64" {
				t.Fatalf("arch %s", d.Arch().Name())
			}
			facts := drgnFacts(fx)
			mm := facts["memory_model"].(map[string]any)
			tr := d.Translator()
			if tr == nil {
				t.Fatalf("no translator: %v", d.Warnings)
			}
			l := tr.Layout()
			if l.PageSize != uint64(mm["page_size"].(float64)) || l.VABits != int(mm["va_bits_effective"].(float64)) ||
				l.Levels != int(mm["paging_levels"].(float64)) || l.ConfigVABits != int(mm["va_bits_vmcoreinfo"].(float64)) {
				t.Errorf("layout %+v, drgn %v", l, mm)
			}
			if want := hexOf(t, facts["kaslr_offset"]); l.KASLROffset != want {
				t.Errorf("KASLR offset %#x, want %#x", l.KASLROffset, want)
			}
			uts, err := d.UTSName()
			if err != nil {
				t.Fatal(err)
			}
			if uts.Release != fx.Meta.KernelRelease || uts.Machine != "aarch64" {
				t.Errorf("utsname %+v", uts)
			}
			if len(d.CPUs) != int(fx.Meta.Raw["guest_cpus"].(float64)) {
				t.Errorf("%d CPUs", len(d.CPUs))
			}
			for _, c := range d.CPUs {
				if !c.HasStatus || c.Regs.PC>>48 != 0xffff || c.Regs.SP>>48 != 0xffff || c.Regs.User {
					t.Errorf("cpu %d: registers %+v", c.Index, c.Regs)
				}
			}
			// The walk maps swapper_pg_dir to the table it starts from, and
			// that page's linear-map alias to the same page.
			cfg := tr.(*arm64.Translator).Config()
			pgd, _ := d.VMCOREINFO().Symbol("swapper_pg_dir")
			if pa, err := tr.Walk(pgd); err != nil || pa != cfg.TopPGD {
				t.Errorf("swapper_pg_dir %#x walks to %#x, %v; want %#x", pgd, pa, err, cfg.TopPGD)
			}
			for _, va := range tr.LinearAliases(cfg.TopPGD) {
				if pa, err := tr.Walk(va); err != nil || pa != cfg.TopPGD {
					t.Errorf("alias %#x walks to %#x, %v; want %#x", va, pa, err, cfg.TopPGD)
				}
			}
		})
	}
}

// BenchmarkTranslate: the fixture's kernel image (2 MiB blocks or pages)
// and linear map (pages: rodata=full) translated by the walk alone and
// through the caches, 64 KiB apart.
func BenchmarkTranslate(b *testing.B) {
	fx := testfixtures.GetArm64(b, "qemu-arm64-6.12-sysrq")
	d, err := vmcore.Open(filepath.Join(fx.Dir, "vmcore"))
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	tr := d.Translator()
	stext, _ := d.VMCOREINFO().Symbol("_stext")
	linear := tr.LinearAliases(0x40000000)[0]
	for _, c := range []struct {
		name string
		base uint64
	}{{"image", stext}, {"linear", linear}} {
		b.Run(c.name+"/walk", func(b *testing.B) {
			for i := range b.N {
				if _, err := tr.Walk(c.base + uint64(i%256)<<16); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(c.name+"/cached", func(b *testing.B) {
			for i := range b.N {
				if _, err := tr.VirtToPhys(c.base + uint64(i%256)<<16); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
