package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/panicscope/panicscope/internal/testfixtures"
)

func TestUnknownCommand(t *testing.T) {
	var out, errb bytes.Buffer
	if err := run([]string{"frobnicate"}, &out, &errb); err == nil {
		t.Fatal("unknown command accepted")
	}
	if !strings.Contains(errb.String(), "usage: panicscope") {
		t.Fatalf("no usage on stderr: %q", errb.String())
	}
}

func TestInfoNonexistentFile(t *testing.T) {
	var out, errb bytes.Buffer
	err := run([]string{"info", filepath.Join(t.TempDir(), "nope")}, &out, &errb)
	if err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Fatalf("want a no-such-file error, got %v", err)
	}
}

func TestParseInterspersed(t *testing.T) {
	fs := newFlagSet("x", &bytes.Buffer{})
	j := fs.Bool("json", false, "")
	s := fs.String("symbols", "", "")
	pos, err := parseInterspersed(fs, []string{"DUMP", "--json", "NAME", "--symbols", "F"})
	if err != nil || !*j || *s != "F" || strings.Join(pos, ",") != "DUMP,NAME" {
		t.Fatalf("pos=%v json=%v symbols=%q err=%v", pos, *j, *s, err)
	}
}

// TestInfoJSONKeys runs `info --json` and `report --json` on a real dump.
func TestInfoJSONKeys(t *testing.T) {
	fx := testfixtures.Get(t, "qemu-6.1-sysrq")
	dump := filepath.Join(fx.Dir, "vmcore")
	var out bytes.Buffer
	if err := run([]string{"info", dump, "--json"}, &out, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	var info map[string]any
	if err := json.Unmarshal(out.Bytes(), &info); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"release", "version", "build_id", "arch", "format", "compression", "cpus", "paging_levels", "kaslr_offset", "panic_message"} {
		if _, ok := info[k]; !ok {
			t.Errorf("info --json lacks %q", k)
		}
	}
	if info["panic_message"] != fx.Meta.Expected.PanicMessage {
		t.Errorf("panic_message %v, want %q", info["panic_message"], fx.Meta.Expected.PanicMessage)
	}
	out.Reset()
	if err := run([]string{"report", "--json", dump}, &out, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	var rep struct {
		SchemaVersion int `json:"schema_version"`
		Kernel        struct {
			Release string `json:"release"`
		} `json:"kernel"`
		Chains []struct {
			Name string `json:"name"`
		} `json:"chains"`
		Timeline []struct {
			Step, Status string
		} `json:"timeline"`
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.SchemaVersion != 1 || rep.Kernel.Release != fx.Meta.KernelRelease || len(rep.Chains) == 0 || len(rep.Timeline) == 0 {
		t.Errorf("report --json: %+v", rep)
	}
}

// TestLogMatchesCrash: for every dump crash could open, `panicscope log`
// prints as many lines as crash's `log`, and its last lines are crash's.
func TestLogMatchesCrash(t *testing.T) {
	for _, fx := range testfixtures.All(t) {
		for _, f := range fx.Meta.Files {
			total, tail, ok := testfixtures.CrashLog(t, fx, f.Name)
			if !ok {
				continue
			}
			t.Run(fx.Name+"/"+f.Name, func(t *testing.T) {
				p := filepath.Join(fx.Dir, f.Name)
				if strings.HasSuffix(p, ".zst") {
					p = testfixtures.Decompressed(t, p)
				}
				var out bytes.Buffer
				if err := run([]string{"log", p}, &out, &bytes.Buffer{}); err != nil {
					t.Fatal(err)
				}
				lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
				if len(lines) != total {
					t.Errorf("%d lines, crash printed %d", len(lines), total)
				}
				if len(lines) < len(tail) {
					t.Fatalf("only %d lines", len(lines))
				}
				got := lines[len(lines)-len(tail):]
				for i := range tail {
					if got[i] != tail[i] {
						t.Errorf("line -%d:\n got  %q\n want %q", len(tail)-i, got[i], tail[i])
					}
				}
			})
		}
	}
}
