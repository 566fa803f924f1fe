package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/panicscope/panicscope/internal/testfixtures"
)

// benchMainEnv makes the test binary run panicscope's main with the
// arguments after "--" (BenchmarkHugeMachine measures separate processes).
const benchMainEnv = "PANICSCOPE_BENCH_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(benchMainEnv) == "1" {
		args := os.Args[1:]
		for i, a := range args {
			if a == "--" {
				args = args[i+1:]
				break
			}
		}
		if err := run(args, io.Discard, os.Stderr); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// hugeMachinePFNs is 2^32 pfns: a 16 TiB machine.
const hugeMachinePFNs = 1 << 32

// rewriteAsHugeMachine copies the kdump-compressed file src to dst as the
// dump of a machine with pfns page frames: the same header, pages and
// descriptors, but bitmaps for pfns pfns (the source's bits, then zeros
// left as a hole of the sparse file) and descriptors pointing at the moved
// data.
func rewriteAsHugeMachine(src, dst string, pfns uint64) error {
	in, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	le := binary.LittleEndian
	if string(in[:8]) != "KDUMP   " || le.Uint32(in[8:]) < 6 {
		return errors.New("not a header_version 6 kdump-compressed file")
	}
	bs := uint64(le.Uint32(in[428:]))
	sub := uint64(le.Uint32(in[432:]))
	oldBlocks := uint64(le.Uint32(in[436:]))
	oldHalf := oldBlocks / 2 * bs
	bitmapOff := (1 + sub) * bs
	oldDesc := bitmapOff + oldBlocks*bs
	half := (pfns/8 + bs - 1) / bs * bs
	newDesc := bitmapOff + 2*half
	delta := newDesc - oldDesc
	// Descriptors: one per bit of the 2nd bitmap.
	var n uint64
	for _, b := range in[bitmapOff+oldHalf : bitmapOff+2*oldHalf] {
		for ; b != 0; b &= b - 1 {
			n++
		}
	}
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	defer out.Close()
	hdr := append([]byte(nil), in[:bitmapOff]...)
	le.PutUint32(hdr[436:], uint32(2*half/bs))
	le.PutUint32(hdr[440:], uint32(min(pfns, 1<<32-1)))
	le.PutUint64(hdr[bs+96:], pfns) // max_mapnr_64
	if e := le.Uint64(hdr[bs+64:]); e != 0 {
		le.PutUint64(hdr[bs+64:], e+delta) // offset_eraseinfo
	}
	descs := append([]byte(nil), in[oldDesc:oldDesc+n*24]...)
	for i := uint64(0); i < n; i++ {
		if off := le.Uint64(descs[i*24:]); off != 0 {
			le.PutUint64(descs[i*24:], off+delta)
		}
	}
	for _, w := range []struct {
		b   []byte
		off uint64
	}{
		{hdr, 0},
		{in[bitmapOff : bitmapOff+oldHalf], bitmapOff},
		{in[bitmapOff+oldHalf : bitmapOff+2*oldHalf], bitmapOff + half},
		{descs, newDesc},
		{in[oldDesc+n*24:], newDesc + n*24},
	} {
		if _, err := out.WriteAt(w.b, int64(w.off)); err != nil {
			return err
		}
	}
	return out.Close()
}

// measure runs "panicscope args..." in a child process and returns its
// wall time, its CPU time (user + system: what the work costs, whatever
// else the machine runs) and its peak RSS in KiB.
func measure(b *testing.B, args ...string) (wall, cpu time.Duration, rss int64) {
	b.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"-test.run=^$", "--"}, args...)...)
	cmd.Env = append(os.Environ(), benchMainEnv+"=1")
	cmd.Stderr = os.Stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		b.Fatalf("panicscope %v: %v", args, err)
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	return time.Since(start), cpu, ru.Maxrss
}

// BenchmarkHugeMachine rewrites kdump-6.1-lzo as the dump of a 16 TiB
// machine (same pages; bitmaps for 2^32 pfns in a sparse file) and compares
// info and report on both: peak RSS must stay within 16 MiB of the
// original's and report's time within 1.5x (issue 13). Time is CPU time
// (user + system), which the load of a shared machine does not inflate as
// it does wall time; both are logged. It reports the best of at least 5
// runs of each, alternating.
func BenchmarkHugeMachine(b *testing.B) {
	fx := testfixtures.Get(b, "kdump-6.1-lzo")
	orig := filepath.Join(fx.Dir, "vmcore")
	huge := filepath.Join(b.TempDir(), "vmcore-16TiB")
	if err := rewriteAsHugeMachine(orig, huge, hugeMachinePFNs); err != nil {
		b.Fatal(err)
	}
	if st, err := os.Stat(huge); err == nil {
		b.Logf("16 TiB rewrite: %d bytes apparent", st.Size())
	}
	for _, cmd := range []string{"info", "report"} {
		var wall, cpu [2]time.Duration
		var rss [2]int64
		for i := 0; i < max(b.N, 5); i++ {
			for k, f := range []string{orig, huge} {
				w, c, r := measure(b, cmd, f)
				if i == 0 {
					wall[k], cpu[k], rss[k] = w, c, r
				}
				wall[k], cpu[k], rss[k] = min(wall[k], w), min(cpu[k], c), min(rss[k], r)
			}
		}
		ratio := float64(cpu[1]) / float64(max(cpu[0], time.Millisecond))
		b.Logf("%s: original %v cpu (%v wall), %d KiB; 16 TiB %v cpu (%v wall), %d KiB: %+d KiB, cpu x%.2f", cmd,
			cpu[0].Round(time.Millisecond), wall[0].Round(time.Millisecond), rss[0],
			cpu[1].Round(time.Millisecond), wall[1].Round(time.Millisecond), rss[1], rss[1]-rss[0], ratio)
		b.ReportMetric(float64(rss[1]-rss[0]), cmd+"-rss-delta-KiB")
		b.ReportMetric(ratio, cmd+"-cpu-ratio")
		if rss[1]-rss[0] > 16<<10 {
			b.Errorf("%s: peak RSS %d KiB on the 16 TiB machine, %d KiB on the original", cmd, rss[1], rss[0])
		}
		if cmd == "report" && ratio > 1.5 {
			b.Errorf("report: %v CPU on the 16 TiB machine, %v on the original", cpu[1], cpu[0])
		}
	}
}

// TestHugeMachineSameReport: the 16 TiB rewrite gives the original's report.
func TestHugeMachineSameReport(t *testing.T) {
	fx := testfixtures.Get(t, "kdump-6.1-lzo")
	orig := filepath.Join(fx.Dir, "vmcore")
	huge := filepath.Join(t.TempDir(), "vmcore-16TiB")
	if err := rewriteAsHugeMachine(orig, huge, hugeMachinePFNs); err != nil {
		t.Fatal(err)
	}
	var a, b bytes.Buffer
	if err := run([]string{"report", "--json", orig}, &a, io.Discard); err != nil {
		t.Fatal(err)
	}
	if err := run([]string{"report", "--json", huge}, &b, io.Discard); err != nil {
		t.Fatal(err)
	}
	if a.String() != strings.ReplaceAll(b.String(), huge, orig) {
		al, bl := strings.Split(a.String(), "\n"), strings.Split(b.String(), "\n")
		for i := range min(len(al), len(bl)) {
			if al[i] != bl[i] {
				t.Fatalf("reports differ at line %d:\n%s\n%s", i+1, al[i], bl[i])
			}
		}
		t.Fatalf("reports differ in length: %d and %d lines", len(al), len(bl))
	}
}
