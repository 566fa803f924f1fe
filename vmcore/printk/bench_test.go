package printk_test

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/panicscope/panicscope/internal/testfixtures"
	"github.com/panicscope/panicscope/vmcore"
	"github.com/panicscope/panicscope/vmcore/printk"
)

// BenchmarkReadLog reads the log of the lzo-compressed 6.1 kdump
// (kdump-6.1-lzo/vmcore: 431 records, 128 KiB text ring, 4096 descriptors).
//
//   - Read: printk.Read on an open dump.
//   - OpenReadPrint: vmcore.Open + printk.Read + every line formatted, the
//     whole job of "makedumpfile --dump-dmesg vmcore out.txt".
//   - makedumpfile: that command itself, when installed (apt-get install
//     makedumpfile), for comparison.
//
// Comparison note, same file, OS cache warm, measured on a shared 2-core
// machine under load average ~13 (so means are noisy; minimums and CPU
// times are the fair figures), go 1.26, makedumpfile 1.7.2 (Debian 12):
//
//	Read            0.57 .. 1.4 ms/op, 668 KB, 1027 allocs
//	OpenReadPrint   2.7 .. 3.0 ms/op, 2.0 MB, 3142 allocs
//	makedumpfile    5.4 .. 5.5 ms/op here (fork+exec included)
//
// hyperfine -N, 300 runs each, whole processes writing the 434 lines:
//
//	makedumpfile --dump-dmesg vmcore out.txt   min 2.79 ms, median 7.76 ms, user 2.32 ms, sys 0.83 ms
//	the same job with vmcore.Open+printk.Read  min 2.91 ms, median 7.77 ms, user 2.30 ms, sys 1.66 ms
//
// i.e. on par with makedumpfile; both spend most of it opening the dump.
//
// Run: go test -run XXX -bench ReadLog ./vmcore/printk/
func BenchmarkReadLog(b *testing.B) {
	f := testfixtures.Get(b, "kdump-6.1-lzo")
	path := filepath.Join(f.Dir, "vmcore")

	b.Run("Read", func(b *testing.B) {
		d, err := vmcore.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		defer d.Close()
		info := d.VMCOREINFO()
		b.ReportAllocs()
		for b.Loop() {
			l, err := printk.Read(d, info)
			if err != nil || len(l.Records) != 431 {
				b.Fatalf("%v, %d records", err, len(l.Records))
			}
		}
	})

	b.Run("OpenReadPrint", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			d, err := vmcore.Open(path)
			if err != nil {
				b.Fatal(err)
			}
			l, err := printk.Read(d, d.VMCOREINFO())
			if err != nil {
				b.Fatal(err)
			}
			w := bufio.NewWriter(io.Discard)
			for _, ln := range l.Lines() {
				w.WriteString(ln.String())
				w.WriteByte('\n')
			}
			w.Flush()
			d.Close()
		}
	})

	b.Run("makedumpfile", func(b *testing.B) {
		bin, err := exec.LookPath("makedumpfile")
		if err != nil {
			b.Skip("makedumpfile not installed")
		}
		out := filepath.Join(b.TempDir(), "dmesg.txt")
		for b.Loop() {
			os.Remove(out) // makedumpfile refuses to overwrite
			if msg, err := exec.Command(bin, "--dump-dmesg", path, out).CombinedOutput(); err != nil {
				b.Fatalf("%v: %s", err, msg)
			}
		}
	})
}

// TestAgainstMakedumpfile compares the whole log, line for line, with
// "makedumpfile --dump-dmesg" (its printk.c dump_record(): later lines of a
// record indented with spaces, unprintable bytes as \xNN), when installed.
func TestAgainstMakedumpfile(t *testing.T) {
	bin, err := exec.LookPath("makedumpfile")
	if err != nil {
		t.Skip("makedumpfile not installed")
	}
	for _, f := range testfixtures.All(t) {
		t.Run(f.Name, func(t *testing.T) {
			path := filepath.Join(f.Dir, "vmcore")
			out := filepath.Join(t.TempDir(), "dmesg.txt")
			if msg, err := exec.Command(bin, "--dump-dmesg", path, out).CombinedOutput(); err != nil {
				t.Skipf("makedumpfile: %v: %s", err, strings.TrimSpace(string(msg)))
			}
			data, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			want := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
			l := readLog(t, path)
			var got []string
			for _, ln := range l.Lines() {
				got = append(got, ln.CrashString())
			}
			if len(got) != len(want) {
				t.Errorf("%d lines, makedumpfile %d", len(got), len(want))
			}
			bad := 0
			for i := 0; i < min(len(got), len(want)); i++ {
				if got[i] != want[i] {
					if bad++; bad <= 5 {
						t.Errorf("line %d:\n got %q\nwant %q", i, got[i], want[i])
					}
				}
			}
			t.Logf("%d lines compared, %d differ", min(len(got), len(want)), bad)
		})
	}
}
