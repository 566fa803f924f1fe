package main

import (
	"bytes"
	"encoding/json"
	"github.com/panicscope/panicscope/vmcore/analysis"
	"github.com/panicscope/panicscope/vmcore/finding"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/panicscope/panicscope/internal/testfixtures"
)

// TestInfoTruncated: a dump cut short (head -c N) says so in info --json,
// how much and from where, and still shows what its headers hold.
func TestInfoTruncated(t *testing.T) {
	fx := testfixtures.Get(t, "kdump-6.1-lzo")
	src, err := os.ReadFile(filepath.Join(fx.Dir, "vmcore"))
	if err != nil {
		t.Fatal(err)
	}
	var whole map[string]any
	var out bytes.Buffer
	if err := run([]string{"info", "--json", filepath.Join(fx.Dir, "vmcore")}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(out.Bytes(), &whole); err != nil {
		t.Fatal(err)
	}
	if whole["incomplete"] != false || whole["truncation"] != nil {
		t.Errorf("whole dump: incomplete %v, truncation %v", whole["incomplete"], whole["truncation"])
	}
	for _, n := range []int{20000, 100000, 5000000} {
		p := filepath.Join(t.TempDir(), "cut")
		if err := os.WriteFile(p, src[:n], 0o644); err != nil {
			t.Fatal(err)
		}
		out.Reset()
		if err := run([]string{"info", "--json", p}, &out, io.Discard); err != nil {
			t.Fatalf("cut at %d: %v", n, err)
		}
		var id map[string]any
		if err := json.Unmarshal(out.Bytes(), &id); err != nil {
			t.Fatal(err)
		}
		if id["incomplete"] != true {
			t.Errorf("cut at %d: incomplete %v", n, id["incomplete"])
		}
		tr, _ := id["truncation"].(map[string]any)
		if tr == nil || tr["file_bytes"] != float64(n) {
			t.Errorf("cut at %d: truncation %v", n, id["truncation"])
		}
		if n >= 100000 && tr["missing_since"] == nil {
			t.Errorf("cut at %d: no missing_since in %v", n, tr)
		}
		for _, k := range []string{"release", "version", "build_id", "kaslr_offset", "crash_time"} {
			if id[k] != whole[k] {
				t.Errorf("cut at %d: %s = %v, whole dump %v", n, k, id[k], whole[k])
			}
		}
		if id["cpus"] != whole["cpus"] {
			t.Errorf("cut at %d: cpus %v, whole %v (notes)", n, id["cpus"], whole["cpus"])
		}
	}
}

// TestInfoTextEscapesDumpStrings: info's text output shows escape
// sequences from the dump escaped.
func TestInfoTextEscapesDumpStrings(t *testing.T) {
	const evil = "msg\x1b]0;title\x07\x1b[2J\u202e"
	var out bytes.Buffer
	msg := evil
	id := analysis.Identity{Release: &msg, Version: &msg, Hostname: evil, PanicMessage: &msg,
		Problems: finding.List{finding.Newf(finding.Damaged, finding.About(finding.AreaDump), "%s", evil)}}
	if err := printIdentity(&out, id); err != nil {
		t.Fatal(err)
	}
	for _, c := range out.String() {
		if c == 0x1b || c == 0x07 || c == 0x202e {
			t.Fatalf("info text holds %U:\n%q", c, out.String())
		}
	}
	if !strings.Contains(out.String(), `msg\x1b]0;title\x07\x1b[2J\u202e`) {
		t.Errorf("escaped message not shown:\n%s", out.String())
	}
}
