// Package testfixtures finds the real dumps in ../shared/vmcores (x86_64)
// and ../shared/vmcores-arm64 for tests and skips cleanly when they are
// absent (a fresh clone has none). The arm64 folder is listed apart
// (AllArm64) so that tests iterating All see x86_64 dumps only.
package testfixtures

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// EnvDir and EnvDirArm64 override where the fixtures are looked for.
const (
	EnvDir      = "PANICSCOPE_VMCORES"
	EnvDirArm64 = "PANICSCOPE_VMCORES_ARM64"
)

// Dir returns the vmcores folder or skips the test.
func Dir(t testing.TB) string {
	t.Helper()
	d, err := find(EnvDir, "vmcores")
	if err != nil {
		t.Skipf("real-dump test skipped: %v (set %s or check out ../shared next to the project)", err, EnvDir)
	}
	return d
}

// Lookup returns the vmcores folder without skipping: fuzz targets seed
// their corpus from the fixtures when they are there.
func Lookup() (string, bool) {
	d, err := find(EnvDir, "vmcores")
	return d, err == nil
}

// DirArm64 returns the vmcores-arm64 folder or skips the test.
func DirArm64(t testing.TB) string {
	t.Helper()
	d, err := find(EnvDirArm64, "vmcores-arm64")
	if err != nil {
		t.Skipf("arm64 real-dump test skipped: %v (set %s or check out ../shared next to the project)", err, EnvDirArm64)
	}
	return d
}

func find(env, folder string) (string, error) {
	if d := os.Getenv(env); d != "" {
		if st, err := os.Stat(d); err == nil && st.IsDir() {
			return d, nil
		}
		return "", fmt.Errorf("%s=%s is not a folder", EnvDir, d)
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	// Walk up to the module root (go.mod), then look beside it.
	for dir := wd; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			cand := filepath.Join(dir, "..", "shared", folder)
			if st, err := os.Stat(cand); err == nil && st.IsDir() {
				return filepath.Clean(cand), nil
			}
			return "", fmt.Errorf("no ../shared/%s beside %s", folder, dir)
		}
		if filepath.Dir(dir) == dir {
			return "", fmt.Errorf("no go.mod above %s", wd)
		}
	}
}

// Fixture is one folder of ../shared/vmcores (or vmcores-arm64) with its
// meta.json.
type Fixture struct {
	Name string
	Dir  string
	Meta Meta
}

// Meta holds the parts of meta.json tests use; Raw keeps the rest.
type Meta struct {
	Name          string `json:"name"`
	KernelRelease string `json:"kernel_release"`
	Files         []struct {
		Name   string `json:"name"`
		Format string `json:"format"`
	} `json:"files"`
	Expected struct {
		PanicMessage             string `json:"panic_message"`
		PanicCPU                 int    `json:"panic_cpu"`
		CrashKexecPostNotifiers  bool   `json:"crash_kexec_post_notifiers"`
		ConsoleReachedEndOfPanic bool   `json:"console_reached_end_of_panic"`
	} `json:"expected"`
	Raw map[string]any `json:"-"`
}

// All lists every x86_64 fixture folder (those with a meta.json in
// ../shared/vmcores), or skips.
func All(t testing.TB) []Fixture {
	t.Helper()
	return list(t, Dir(t))
}

// AllArm64 lists every arm64 fixture folder (../shared/vmcores-arm64), or
// skips.
func AllArm64(t testing.TB) []Fixture {
	t.Helper()
	return list(t, DirArm64(t))
}

func list(t testing.TB, root string) []Fixture {
	t.Helper()
	ents, err := os.ReadDir(root)
	if err != nil {
		t.Fatalf("reading %s: %v", root, err)
	}
	var out []Fixture
	for _, e := range ents {
		p := filepath.Join(root, e.Name(), "meta.json")
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		f := Fixture{Name: e.Name(), Dir: filepath.Join(root, e.Name())}
		if err := json.Unmarshal(data, &f.Meta); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if err := json.Unmarshal(data, &f.Meta.Raw); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		out = append(out, f)
	}
	return out
}

// Get returns one x86_64 fixture by folder name, or skips.
func Get(t testing.TB, name string) Fixture {
	t.Helper()
	return get(t, All(t), name)
}

// GetArm64 returns one arm64 fixture by folder name, or skips.
func GetArm64(t testing.TB, name string) Fixture {
	t.Helper()
	return get(t, AllArm64(t), name)
}

func get(t testing.TB, l []Fixture, name string) Fixture {
	t.Helper()
	for _, f := range l {
		if f.Name == name {
			return f
		}
	}
	t.Skipf("fixture %s not present", name)
	return Fixture{}
}

// BuildID is the content of kernels/RELEASE/vmlinux.build-id.
func BuildID(t testing.TB, release string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(Dir(t), "kernels", release, "vmlinux.build-id"))
	if err != nil {
		t.Fatalf("build id for %s: %v", release, err)
	}
	return string(trimSpace(data))
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == ' ' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

var decompressMu sync.Mutex

// Decompressed returns the path of the zstd file's decompressed copy, made
// once under the user cache folder (the ELF copies are 96–144 MiB).
func Decompressed(t testing.TB, zstPath string) string {
	t.Helper()
	decompressMu.Lock()
	defer decompressMu.Unlock()
	st, err := os.Stat(zstPath)
	if err != nil {
		t.Skipf("%s: %v", zstPath, err)
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	rel := filepath.Base(filepath.Dir(zstPath)) + "-" + filepath.Base(zstPath)
	out := filepath.Join(cache, "panicscope-fixtures", fmt.Sprintf("%s.%d", rel[:len(rel)-len(".zst")], st.Size()))
	if _, err := os.Stat(out); err == nil {
		return out
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		t.Fatal(err)
	}
	in, err := os.Open(zstPath)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	dec, err := zstd.NewReader(in, zstd.WithDecoderMaxWindow(1<<30))
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	tmp := out + ".tmp"
	w, err := os.Create(tmp)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(w, dec); err != nil {
		w.Close()
		t.Fatalf("decompressing %s: %v", zstPath, err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, out); err != nil {
		t.Fatal(err)
	}
	return out
}

// EnvVmlinux names a DWARF vmlinux of the 6.1 fixtures' kernel.
const EnvVmlinux = "PANICSCOPE_VMLINUX_6_1"

// DebugVmlinux returns a DWARF vmlinux of release: $PANICSCOPE_VMLINUX_6_1
// (for 6.1.0-56-amd64), Debian's linux-image-RELEASE-dbg install, or the
// copy scripts/bench.sh unpacks into ~/.cache/panicscope-lab/dbg. It skips
// the test when there is none.
func DebugVmlinux(t testing.TB, release string) string {
	t.Helper()
	var cands []string
	if p := os.Getenv(EnvVmlinux); p != "" && release == "6.1.0-56-amd64" {
		cands = append(cands, p)
	}
	cands = append(cands, "/usr/lib/debug/boot/vmlinux-"+release)
	if home, err := os.UserHomeDir(); err == nil {
		cands = append(cands, filepath.Join(home, ".cache/panicscope-lab/dbg/usr/lib/debug/boot/vmlinux-"+release))
	}
	for _, c := range cands {
		if st, err := os.Stat(c); err == nil && st.Mode().IsRegular() {
			return c
		}
	}
	t.Skipf("no DWARF vmlinux of %s (apt-get install linux-image-%s-dbg, or scripts/bench.sh, or set %s): looked in %v", release, release, EnvVmlinux, cands)
	return ""
}
