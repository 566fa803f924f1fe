package lzo

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzDecompress: any input decodes or fails with a sentinel, never panics,
// and never claims more output than dst holds. Seeds in
// testdata/fuzz/FuzzDecompress are valid streams from the test encoder.
func FuzzDecompress(f *testing.F) {
	f.Add([]byte{0x11, 0, 0}, uint16(16))
	f.Fuzz(func(t *testing.T, src []byte, dstLen uint16) {
		dst := make([]byte, dstLen)
		n, err := Decompress(dst, src)
		if n < 0 || n > len(dst) {
			t.Fatalf("n = %d, len(dst) = %d", n, len(dst))
		}
		if err != nil {
			if !isSentinel(err) {
				t.Fatalf("error without a sentinel: %v", err)
			}
			return
		}
		// Success depends on dst only through its size: an exact dst gives
		// the same bytes and one byte less overruns.
		exact := make([]byte, n)
		if n2, err := Decompress(exact, src); err != nil || n2 != n || !bytes.Equal(exact, dst[:n]) {
			t.Fatalf("exact dst: n=%d err=%v (first run n=%d)", n2, err, n)
		}
		if n > 0 {
			if _, err := Decompress(exact[:n-1], src); !errors.Is(err, ErrOutputOverrun) {
				t.Fatalf("dst one short: err=%v, want ErrOutputOverrun", err)
			}
		}
	})
}

var writeSeeds = flag.Bool("write-seeds", false, "rewrite testdata/fuzz/FuzzDecompress/seed-* from the test encoder")

// TestWriteFuzzSeeds regenerates the seed corpus with -write-seeds.
func TestWriteFuzzSeeds(t *testing.T) {
	if !*writeSeeds {
		t.Skip("run with -write-seeds to regenerate the seed corpus")
	}
	rng := rand.New(rand.NewPCG(11, 12))
	seeds := []struct {
		name string
		data []byte
		opts encOpts
	}{
		{"empty", nil, encOpts{}},
		{"hello", []byte("hello, lzo"), encOpts{}},
		{"text", []byte(strings.Repeat("the quick brown fox jumps over the lazy dog. ", 10)), encOpts{}},
		{"page", fakePage(rng), encOpts{}},
		{"page-rle", fakePage(rng), encOpts{rle: true}},
		{"mixed-random-enc", mixed(rng, 3000), encOpts{rng: rng}},
		{"zeros-4096", make([]byte, 4096), encOpts{}},
		{"zeros-4096-rle", make([]byte, 4096), encOpts{rle: true}},
		{"far", bytes.Repeat([]byte("0123456789abcdefghij"), 1700), encOpts{rng: rng}},
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzDecompress")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, s := range seeds {
		src := compress(s.data, s.opts)
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\nuint16(%d)\n", src, len(s.data))
		if err := os.WriteFile(filepath.Join(dir, "seed-"+s.name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
