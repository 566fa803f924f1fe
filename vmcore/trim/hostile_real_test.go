package trim

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/panicscope/panicscope/internal/testfixtures"
)

// TestTrimFlippedMaxMapnr: one flipped bit in max_mapnr_64 (2^40 pfns:
// 2 x 128 GiB of bitmap) leaves the copy as small as the clean dump's, with
// the same report.
func TestTrimFlippedMaxMapnr(t *testing.T) {
	fx := testfixtures.Get(t, "kdump-6.1-lzo")
	data, err := os.ReadFile(filepath.Join(fx.Dir, "vmcore"))
	if err != nil {
		t.Fatal(err)
	}
	bs := binary.LittleEndian.Uint32(data[428:])
	off := bs + 96 // kdump_sub_header.max_mapnr_64
	v := binary.LittleEndian.Uint64(data[off:])
	binary.LittleEndian.PutUint64(data[off:], v|1<<40)
	dir := t.TempDir()
	src := filepath.Join(dir, "flipped")
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "trimmed")
	res, err := File(context.Background(), src, out, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Bytes > 4<<20 {
		t.Fatalf("copy of %d bytes", res.Bytes)
	}
	a, _, _ := reportAndLog(t, filepath.Join(fx.Dir, "vmcore"))
	b, _, _ := reportAndLog(t, out)
	diffs, err := Differences(a, b)
	if err != nil {
		t.Fatal(err)
	}
	if len(diffs) > 0 {
		t.Errorf("report of the copy differs: %v", diffs)
	}
}

// countdownCtx is cancelled after its Err has been asked n times, so that
// a test can stop File in the middle of writing.
type countdownCtx struct {
	context.Context
	n *atomic.Int32
}

func (c countdownCtx) Err() error {
	if c.n.Add(-1) < 0 {
		return context.Canceled
	}
	return nil
}

// TestTrimCancelledRemovesTemp: a trim cancelled (SIGINT) before or while
// writing leaves neither the output nor a temporary file.
func TestTrimCancelledRemovesTemp(t *testing.T) {
	fx := testfixtures.Get(t, "kdump-6.1-lzo")
	dir := t.TempDir()
	out := filepath.Join(dir, "trimmed")
	for _, asks := range []int32{0, 1, 2} {
		n := &atomic.Int32{}
		n.Store(asks)
		_, err := File(countdownCtx{context.Background(), n}, filepath.Join(fx.Dir, "vmcore"), out, Options{})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled after %d checks: err = %v, want context.Canceled", asks, err)
		}
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			t.Errorf("cancelled after %d checks: %s left behind", asks, e.Name())
		}
	}
}
