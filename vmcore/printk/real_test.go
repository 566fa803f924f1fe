package printk_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/panicscope/panicscope/internal/testfixtures"
	"github.com/panicscope/panicscope/vmcore"
	"github.com/panicscope/panicscope/vmcore/printk"
)

// dumpPath is the file to open for one of a fixture's files (zstd copies are
// decompressed once into the cache).
func dumpPath(t testing.TB, f testfixtures.Fixture, name string) string {
	p := filepath.Join(f.Dir, name)
	if strings.HasSuffix(name, ".zst") {
		return testfixtures.Decompressed(t, p)
	}
	return p
}

// readLog opens a dump and reads its log.
func readLog(t testing.TB, path string) *printk.Log {
	t.Helper()
	d, err := vmcore.Open(path)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer d.Close()
	info := d.VMCOREINFO()
	if info == nil {
		t.Skipf("%s: no VMCOREINFO found", path)
	}
	l, err := printk.Read(d, info)
	if err != nil {
		t.Fatalf("printk.Read: %v", err)
	}
	return l
}

var consoleLine = regexp.MustCompile(`^\[ *\d+\.\d{6}\] `)

// consoleAfterPanic returns the kernel lines of console.log from the line
// panicLine on, up to a line whose timestamp goes backwards (the capture
// kernel of a kdump booting).
func consoleAfterPanic(t *testing.T, f testfixtures.Fixture, panicLine string) []string {
	data, err := os.ReadFile(filepath.Join(f.Dir, "console.log"))
	if err != nil {
		t.Fatalf("console.log: %v", err)
	}
	var out []string
	var last string
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimRight(line, "\r")
		if i := strings.Index(line, "["); i > 0 && consoleLine.MatchString(line[i:]) && len(out) > 0 {
			line = line[i:] // console noise before the timestamp
		}
		if !consoleLine.MatchString(line) {
			continue
		}
		if len(out) == 0 {
			if line == panicLine {
				out, last = append(out, line), line[:15]
			}
			continue
		}
		if ts := line[:15]; ts < last { // "[    4.124367] " sorts as text
			break
		} else {
			last = ts
		}
		out = append(out, line)
	}
	return out
}

func TestRealDumps(t *testing.T) { checkLogs(t, testfixtures.All(t)) }

// TestRealDumpsArm64: the same on the arm64 fixtures (drgn's printk facts
// and the console; crash cannot read them).
func TestRealDumpsArm64(t *testing.T) { checkLogs(t, testfixtures.AllArm64(t)) }

func checkLogs(t *testing.T, fixtures []testfixtures.Fixture) {
	for _, f := range fixtures {
		for _, file := range f.Meta.Files {
			t.Run(f.Name+"/"+file.Name, func(t *testing.T) {
				if testing.Short() && file.Name != "vmcore" {
					t.Skip("short: only each fixture's vmcore")
				}
				l := readLog(t, dumpPath(t, f, file.Name))
				lines := l.Lines()
				t.Logf("%s: %d records, %d lines, %d gaps, seq %d..%d, dropped %d, ring %d bytes / %d descs",
					l.Source, len(l.Records), len(lines), len(l.Gaps), l.FirstSeq, l.NextSeq, l.Dropped, l.Size, l.DescCount)
				if len(l.Gaps) > 0 {
					t.Errorf("gaps: %+v", l.Gaps)
				}

				// Record count, first/last seq, panic index and tail as
				// drgn read them from the same memory.
				if drgn, ok := f.Meta.Raw["expected_from_memory_drgn"].(map[string]any); ok {
					pk, _ := drgn["printk"].(map[string]any)
					if want, ok := pk["records"].(float64); ok && len(l.Records) != int(want) {
						t.Errorf("%d records, drgn read %v", len(l.Records), want)
					}
					if want, ok := pk["first_seq"].(float64); ok && len(l.Records) > 0 && l.Records[0].Seq != uint64(want) {
						t.Errorf("first seq %d, drgn %v", l.Records[0].Seq, want)
					}
					if want, ok := pk["last_seq"].(float64); ok && len(l.Records) > 0 && l.Records[len(l.Records)-1].Seq != uint64(want) {
						t.Errorf("last seq %d, drgn %v", l.Records[len(l.Records)-1].Seq, want)
					}
					if tail, ok := pk["tail"].([]any); ok && len(l.Records) >= len(tail) {
						for i, w := range tail {
							if got := l.Records[len(l.Records)-len(tail)+i].Text; got != w {
								t.Errorf("tail[%d] = %q, drgn %q", i, got, w)
							}
						}
					}
					if want, ok := pk["panic_line_index"].(float64); ok {
						rec, _, _ := l.PanicMessage()
						if idx := int(rec.Seq - l.Records[0].Seq); idx != int(want) {
							t.Errorf("panic record index %d, drgn %v", idx, want)
						}
					}
				}

				// The panic message.
				rec, msg, ok := l.PanicMessage()
				if !ok || msg != f.Meta.Expected.PanicMessage {
					t.Errorf("PanicMessage = %q, %v; want %q", msg, ok, f.Meta.Expected.PanicMessage)
				}

				// crash's "log": the total and the last 30 lines.
				if total, tail, ok := testfixtures.CrashLog(t, f, file.Name); ok {
					if total != len(lines) {
						t.Errorf("%d lines, crash printed %d", len(lines), total)
					}
					if len(lines) < len(tail) {
						t.Fatalf("only %d lines", len(lines))
					}
					for i, want := range tail {
						if got := lines[len(lines)-len(tail)+i].CrashString(); got != want {
							t.Errorf("crash log line -%d:\n got %q\nwant %q", len(tail)-i, got, want)
						}
					}
				} else {
					t.Logf("no crash log for %s", file.Name)
				}

				// console.log from the panic message on: the same lines, as
				// far as the console got before kexec or the end.
				var panicLine string
				for _, ln := range lines {
					if ln.Seq == rec.Seq && !ln.IsContinuation {
						panicLine = ln.String()
					}
				}
				console := consoleAfterPanic(t, f, panicLine)
				if len(console) < 2 {
					t.Fatalf("panic line %q: %d console lines", panicLine, len(console))
				}
				var ours []string
				for _, ln := range lines {
					if ln.Seq >= rec.Seq {
						ours = append(ours, ln.String())
					}
				}
				n := min(len(console), len(ours))
				for i := 0; i < n; i++ {
					if console[i] != ours[i] {
						t.Errorf("line %d after the panic:\n got %q\nwant %q (console)", i, ours[i], console[i])
					}
				}
				t.Logf("console: %d lines from the panic on, ours %d, %d compared", len(console), len(ours), n)
			})
		}
	}
}
