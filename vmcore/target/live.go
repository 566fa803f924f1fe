package target

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/panicscope/panicscope/vmcore"
	"github.com/panicscope/panicscope/vmcore/finding"
	"github.com/panicscope/panicscope/vmcore/kernel/btfmem"
	"github.com/panicscope/panicscope/vmcore/kernel/symbols"
)

// Paths live mode reads, relative to Options.LiveRoot.
const (
	LiveKcore    = "/proc/kcore"
	LiveKallsyms = "/proc/kallsyms"
	LiveBTFDir   = "/sys/kernel/btf"
)

// LiveState is what the running system's /proc and /sys files said, read
// once when the Target was opened, so memory can be checked against them.
type LiveState struct {
	Kcore  string      `json:"kcore"`
	Values []LiveValue `json:"values"`
}

// LiveValue is one /proc or /sys file: its trimmed content or why it could
// not be read.
type LiveValue struct {
	Name  string `json:"name"`
	Path  string `json:"path"`
	Value string `json:"value,omitempty"`
	Err   string `json:"error,omitempty"`
}

// Get returns the value named name and whether it was read.
func (s *LiveState) Get(name string) (string, bool) {
	if s == nil {
		return "", false
	}
	for _, v := range s.Values {
		if v.Name == name {
			return v.Value, v.Err == ""
		}
	}
	return "", false
}

// liveFiles are the panic-path knobs as the kernel shows them (kernel/panic.c
// core_param()s and sysctls, kernel/ksysfs.c kexec_crash_loaded_show()).
var liveFiles = []struct{ name, path string }{
	{"panic", "/proc/sys/kernel/panic"},
	{"panic_print", "/proc/sys/kernel/panic_print"},
	{"panic_on_oops", "/proc/sys/kernel/panic_on_oops"},
	{"panic_on_warn", "/proc/sys/kernel/panic_on_warn"},
	{"crash_kexec_post_notifiers", "/sys/module/kernel/parameters/crash_kexec_post_notifiers"},
	{"kexec_crash_loaded", "/sys/kernel/kexec_crash_loaded"},
	{"kexec_crash_size", "/sys/kernel/kexec_crash_size"},
	{"tainted", "/proc/sys/kernel/tainted"},
	{"kptr_restrict", "/proc/sys/kernel/kptr_restrict"},
	{"cpus_online", "/sys/devices/system/cpu/online"},
	{"cmdline", "/proc/cmdline"},
}

// maxLiveFile bounds one /proc or /sys value read.
const maxLiveFile = 64 << 10

// livePaths resolves the /proc and /sys paths live mode reads.
type livePaths struct{ root string }

func (l *livePaths) path(p string) string {
	if l.root == "" {
		return p
	}
	return filepath.Join(l.root, p)
}

// OpenLive opens the running kernel: memory through /proc/kcore, and the
// panic-path files of /proc and /sys (read once, to check memory against).
// Its stages then read symbols from /proc/kallsyms (else kallsyms through
// VMCOREINFO, or opt.SymbolsFile), types from /sys/kernel/btf (else BTF in
// memory), and modules from memory. Only /proc/kcore is required: when it
// cannot be read the error names the file and the errno text.
func OpenLive(opt Options) (*Target, error) {
	lp := &livePaths{root: opt.LiveRoot}
	d, err := vmcore.OpenLive(lp.path(LiveKcore))
	if err != nil {
		return nil, err
	}
	t, err := newTarget(d, opt)
	if err != nil {
		return nil, err
	}
	t.live = lp
	t.Live = readLiveState(lp.path)
	t.Live.Kcore = lp.path(LiveKcore)
	if v, ok := t.Live.Get("cpus_online"); ok {
		if n, err := cpuCount(v); err == nil {
			d.CPUs = make([]vmcore.CPU, n)
			for i := range d.CPUs {
				d.CPUs[i].Index = i
			}
		} else {
			t.problemf(finding.Unreadable, finding.AreaCPU, "online CPUs: %w", err)
		}
	}
	return t, nil
}

func readLiveState(path func(string) string) *LiveState {
	s := &LiveState{}
	for _, f := range liveFiles {
		v := LiveValue{Name: f.name, Path: path(f.path)}
		b, err := readSmall(v.Path, maxLiveFile)
		if err != nil {
			v.Err = vmcore.LiveReadError(v.Path, err).Error()
		} else {
			v.Value = strings.TrimSpace(string(b))
		}
		s.Values = append(s.Values, v)
	}
	return s
}

func readSmall(p string, limit int64) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, &os.PathError{Op: "read", Path: p, Err: err}
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s: more than %d bytes", p, limit)
	}
	return b, nil
}

// cpuCount parses a cpulist ("0-3,5") and returns the highest CPU + 1.
func cpuCount(list string) (int, error) {
	hi := -1
	for _, part := range strings.Split(strings.TrimSpace(list), ",") {
		if part == "" {
			continue
		}
		last := part
		if i := strings.IndexByte(part, '-'); i >= 0 {
			last = part[i+1:]
		}
		n, err := strconv.Atoi(last)
		if err != nil || n < 0 || n > 1<<16 {
			return 0, fmt.Errorf("cpu list %q unreadable", list)
		}
		hi = max(hi, n)
	}
	if hi < 0 {
		return 0, fmt.Errorf("empty cpu list %q", list)
	}
	return hi + 1, nil
}

func (t *Target) procKallsyms(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return vmcore.LiveReadError(p, err)
	}
	defer f.Close()
	tab, err := symbols.ParseMap(f, symbols.MapOptions{Name: p, Kind: symbols.MapRuntime})
	if err != nil {
		if errors.Is(err, symbols.ErrZeroAddresses) {
			kr, _ := t.Live.Get("kptr_restrict")
			return fmt.Errorf("%s lists every address as 0: unreadable for this user (kptr_restrict=%s; needs root, or kptr_restrict=0)", p, kr)
		}
		return err
	}
	if info := t.Dump.VMCOREINFO(); info != nil {
		if _, err := tab.Verify(info); err != nil {
			return fmt.Errorf("%s does not match the running kernel's VMCOREINFO: %w", p, err)
		}
	}
	t.Syms, t.SymbolSource = tab, string(tab.Source())
	return nil
}

// liveTypes reads vmlinux BTF and every module's split BTF from sysfs
// (kernel/bpf/sysfs_btf.c, kernel/bpf/btf.c btf_module_notify()).
func (t *Target) liveTypes(dir string) error {
	vmlinux := filepath.Join(dir, "vmlinux")
	blob, err := readSmall(vmlinux, btfmem.MaxBlob)
	if err != nil {
		return vmcore.LiveReadError(vmlinux, err)
	}
	base, err := btfmem.Parse(blob)
	if err != nil {
		return fmt.Errorf("%s: %w", vmlinux, err)
	}
	t.Kernel.Types = btfmem.NewTypes(base)
	t.TypeSource = "BTF from " + vmlinux
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.problemf(finding.Unreadable, finding.AreaTypes, "module BTF: %w", vmcore.LiveReadError(dir, err))
		return nil
	}
	var names []string
	for _, e := range ents {
		if e.Name() != "vmlinux" && !e.IsDir() {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	var mods []*btfmem.Spec
	for _, n := range names {
		p := filepath.Join(dir, n)
		b, err := readSmall(p, btfmem.MaxBlob)
		if err != nil {
			t.problemf(finding.Unreadable, finding.AreaTypes, "module BTF: %w", vmcore.LiveReadError(p, err))
			continue
		}
		spec, err := btfmem.ParseSplit(b, base)
		if err != nil {
			t.problemf(finding.Damaged, finding.AreaTypes, "module BTF %s: %w", n, err)
			continue
		}
		mods = append(mods, spec)
	}
	if len(mods) > 0 {
		t.Kernel.Types = btfmem.NewTypes(base, mods...)
		t.TypeSource = fmt.Sprintf("BTF from %s + %d module BTF", vmlinux, len(mods))
	}
	return nil
}
