package dwarftypes_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/panicscope/panicscope/vmcore/kernel"
	"github.com/panicscope/panicscope/vmcore/kernel/dwarftypes"
	"github.com/panicscope/panicscope/vmcore/vmem"
)

// testdata/lab-dwarf{4,5}.debug are built from testdata/lab.c by
// testdata/build.sh: GCC writes bitfields as DW_AT_bit_offset in DWARF 4 and
// DW_AT_data_bit_offset in DWARF 5.
var labFiles = []string{"testdata/lab-dwarf4.debug", "testdata/lab-dwarf5.debug"}

const labFlagsLayout = `struct lab_flags {
    [0:0]    unsigned int a : 3; /* bits 0-2 */
    [0:3]    unsigned int b : 5; /* bits 3-7 */
    [1:0]    int s : 4; /* bits 0-3 */
    [1:4]    unsigned int wide : 20; /* bits 4-23 */
    [8:0]    long long unsigned int big : 60; /* bits 0-59 */
    [16]     union {
        [16]     long int l; /* size 8 */
        [16]     char c[8]; /* size 8 */
             }; /* size 8 */
    [24]     const char name[16]; /* size 16 */
    [40]     enum lab_state st; /* size 4 */
    [44]     atomic_t refs; /* size 4 */
    [48]     struct list_head list; /* size 16 */
    [64]     char *comm; /* size 8 */
    [72]     struct {
        [72]     int x; /* size 4 */
        [76]     int y; /* size 4 */
             } pt; /* size 8 */
    [80]     volatile long unsigned int flags2; /* size 8 */
    [88]     struct opaque *op; /* size 8 */
    [96]     int grid[2][3]; /* size 24 */
    [120]    _Bool ok; /* size 1 */
    [121]    char tail[0]; /* size 0 */
}
SIZE: 128
`

func TestLabTypes(t *testing.T) {
	for _, f := range labFiles {
		t.Run(filepath.Base(f), func(t *testing.T) {
			ty, err := dwarftypes.Open(f, "")
			if err != nil {
				t.Fatal(err)
			}
			defer ty.Close()
			if len(ty.BuildID()) != 40 {
				t.Fatalf("build ID %q", ty.BuildID())
			}
			k := &kernel.Kernel{Types: ty}
			got, err := k.Layout("struct lab_flags")
			if err != nil || got != labFlagsLayout {
				t.Fatalf("layout (%v):\n%s\nwant:\n%s", err, got, labFlagsLayout)
			}
			for name, want := range map[string]string{
				"notifier_block": "struct notifier_block {\n    [0]      notifier_fn_t notifier_call; /* size 8 */\n" +
					"    [8]      struct notifier_block *next; /* size 8 */\n    [16]     int priority; /* size 4 */\n}\nSIZE: 24\n",
				"notifier_fn_t": "typedef int (*notifier_fn_t)(struct notifier_block *, long unsigned int, void *);\nSIZE: 8\n",
				"lab_state":     "enum lab_state {\n    LAB_DEAD = -1,\n    LAB_IDLE = 0,\n    LAB_BUSY = 7,\n}\nSIZE: 4\n",
			} {
				if got, err := k.Layout(name); err != nil || got != want {
					t.Errorf("%s (%v):\n%s", name, err, got)
				}
			}
			for _, name := range []string{"struct opaque", "struct nope", "union notifier_block", ""} {
				if _, err := ty.AnyType(name); !errors.Is(err, dwarftypes.ErrNotFound) {
					t.Errorf("AnyType(%q): want ErrNotFound, got %v", name, err)
				}
			}

			// Values through the object layer: bitfields land where GCC put them.
			buf := make([]byte, 128)
			binary.LittleEndian.PutUint32(buf, 5|17<<3|0xd<<8|0xabcde<<12)
			binary.LittleEndian.PutUint64(buf[8:], 0x0fedcba987654321)
			copy(buf[24:], "swapper/0\x00")
			var mem vmem.Fake
			mem.Map(0x1000, buf)
			k.Mem = &mem
			o, err := k.Object(0x1000, "struct lab_flags")
			if err != nil {
				t.Fatal(err)
			}
			for path, want := range map[string]int64{"a": -3, "b": -15, "s": -3, "wide": 0xabcde - 1<<20, "big": 0xfedcba987654321 - 1<<60} {
				m, err := o.Member(path)
				if err != nil {
					t.Fatal(err)
				}
				if v, err := m.Int(); err != nil || v != want {
					t.Errorf("%s = %d, %v; want %d", path, v, err, want)
				}
			}
			if m, err := o.Member("name"); err != nil {
				t.Fatal(err)
			} else if s, err := m.CString(16); s != "swapper/0" || err != nil {
				t.Errorf("name = %q, %v", s, err)
			}
			if off, err := k.OffsetOf("struct lab_flags", "grid[1][2]"); err != nil || off != 96+5*4 {
				t.Errorf("offsetof grid[1][2] = %d, %v", off, err)
			}

			// Build ID checks.
			if _, err := dwarftypes.Open(f, ty.BuildID()); err != nil {
				t.Errorf("matching build ID: %v", err)
			}
			_, err = dwarftypes.Open(f, "0123456789abcdef0123456789abcdef01234567")
			var mm *dwarftypes.BuildIDMismatchError
			if !errors.As(err, &mm) || mm.Got != ty.BuildID() {
				t.Errorf("wrong build ID: %v", err)
			}
		})
	}
}

func TestNotELF(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x")
	if err := os.WriteFile(p, []byte("not an ELF file at all"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := dwarftypes.Open(p, ""); err == nil {
		t.Fatal("non-ELF accepted")
	}
	if _, err := dwarftypes.Open(filepath.Join(t.TempDir(), "missing"), ""); err == nil {
		t.Fatal("missing file accepted")
	}
}

// FuzzDWARFTypes: a mutated ELF/DWARF image through NewFromReader and a few
// lookups. No panic.
func FuzzDWARFTypes(f *testing.F) {
	for _, p := range labFiles {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<16 {
			return
		}
		ty, err := dwarftypes.NewFromReader(bytes.NewReader(data), "fuzz", "")
		if err != nil {
			return
		}
		for _, n := range []string{"struct lab_flags", "notifier_fn_t", "atomic_t", "lab_state", "int", "nope"} {
			if typ, err := ty.AnyType(n); err == nil {
				_ = kernel.FormatLayout(typ)
			}
		}
	})
}
