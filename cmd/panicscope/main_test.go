package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/panicscope/panicscope/internal/testfixtures"
)

// TestCommandLine: exit status 0 / 1 / 2 (usage), and where the message
// goes, for each way a command line can go wrong. None needs a real dump.
func TestCommandLine(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "notes.txt")
	zst := filepath.Join(dir, "vmcore.zst")
	exists := filepath.Join(dir, "out")
	for p, b := range map[string]string{text: "not a dump\n", zst: "\x28\xb5\x2f\xfd rest", exists: "x"} {
		if err := os.WriteFile(p, []byte(b), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	missing := filepath.Join(dir, "nosuchfile")
	for _, tc := range []struct {
		args         []string
		code         int
		stdout, diag string // substrings of stdout and of stderr+error
	}{
		{nil, 2, "", "usage: panicscope COMMAND"},
		{[]string{"--help"}, 0, "panicscope bt DUMP", ""},
		{[]string{"help"}, 0, "--level LEVEL", ""},
		{[]string{"--version"}, 0, "panicscope ", ""},
		{[]string{"version"}, 0, "panicscope ", ""},
		{[]string{"frobnicate"}, 2, "", `unknown command "frobnicate"`},
		{[]string{missing}, 1, "", "no such file"},
		{[]string{"--ascii", missing}, 1, "", "no such file"},
		{[]string{text}, 1, "", "not a recognised crash dump"},
		{[]string{"info", zst}, 1, "", "zstd-compressed as a whole: decompress it first"},
		{[]string{"info", "--help"}, 0, "usage: panicscope info", ""},
		{[]string{"info"}, 2, "", "usage: panicscope info"},
		{[]string{"info", "--bogus", text}, 2, "", "flag provided but not defined: -bogus"},
		{[]string{"bt", text, "--cpu", "0", "--pid", "1"}, 2, "", "give one"},
		{[]string{"report", "--markdown", "--json", text}, 2, "", "give one"},
		{[]string{"report", "--width", "5", text}, 2, "", "at least 40 columns"},
		{[]string{"log", text, "--caller", "X1"}, 2, "", "want T<pid>"},
		{[]string{"log", text, "--level", "loud"}, 2, "", "unknown level"},
		{[]string{"trim", text, exists}, 1, "", "exists; remove it or pass --replace"},
		{[]string{"trim", "--live", text, exists}, 2, "", "cannot be trimmed"},
		{[]string{"demo", "extra"}, 2, "", "usage: panicscope demo"},
		{[]string{"--live"}, 2, "", "the interactive view reads dumps"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var out, errb bytes.Buffer
			err := run(tc.args, &out, &errb)
			code := exitCode(err, &errb)
			if code != tc.code {
				t.Errorf("exit %d, want %d (err %v, stderr %q)", code, tc.code, err, errb.String())
			}
			if !strings.Contains(out.String(), tc.stdout) {
				t.Errorf("stdout lacks %q:\n%s", tc.stdout, out.String())
			}
			if !strings.Contains(errb.String(), tc.diag) {
				t.Errorf("stderr lacks %q:\n%s", tc.diag, errb.String())
			}
		})
	}
}

// TestUsageFitsEightyColumns: the top-level help is read on serial consoles.
func TestUsageFitsEightyColumns(t *testing.T) {
	var out bytes.Buffer
	usage(&out)
	for _, l := range strings.Split(out.String(), "\n") {
		if len([]rune(l)) > 80 {
			t.Errorf("%d columns: %q", len([]rune(l)), l)
		}
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
	if rep.SchemaVersion != 2 || rep.Kernel.Release != fx.Meta.KernelRelease || len(rep.Chains) == 0 || len(rep.Timeline) == 0 {
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
