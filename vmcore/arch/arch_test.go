package arch_test

import (
	"debug/elf"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/panicscope/panicscope/vmcore/arch"
	"github.com/panicscope/panicscope/vmcore/phys"
	"github.com/panicscope/panicscope/vmcore/vmcoreinfo"
)

// fake is an architecture recognised by a VMCOREINFO key and a note size.
type fake struct {
	name    string
	machine elf.Machine
	key     string
	prsize  int
}

func (f fake) Name() string            { return f.name }
func (f fake) ELFMachine() elf.Machine { return f.machine }
func (f fake) MatchVMCOREINFO(i *vmcoreinfo.Info) bool {
	_, ok := i.Get(f.key)
	return ok
}
func (f fake) PRStatusSize() int                      { return f.prsize }
func (f fake) PRStatus([]byte) (arch.PRStatus, error) { return arch.PRStatus{}, nil }
func (f fake) PtRegsSize() int                        { return 0 }
func (f fake) DecodePtRegs([]byte) arch.Regs          { return arch.Regs{} }
func (f fake) RegsLines(arch.Regs) []string           { return nil }
func (f fake) PCName() string                         { return "PC" }
func (f fake) HypervisorNote(string, uint32, []byte) (arch.HypervisorCPU, bool, error) {
	return arch.HypervisorCPU{}, false, nil
}
func (f fake) NewTranslator(phys.Memory, *vmcoreinfo.Info) (arch.Translator, error) {
	return nil, errors.New("fake")
}

func info(t *testing.T, text string) *vmcoreinfo.Info {
	t.Helper()
	i, err := vmcoreinfo.Parse([]byte("OSRELEASE=6.1.0\n" + text))
	if err != nil {
		t.Fatal(err)
	}
	return i
}

func TestDetect(t *testing.T) {
	amd := fake{name: "x86_64", machine: elf.EM_X86_64, key: "SYMBOL(init_top_pgt)", prsize: 336}
	supported := []arch.Arch{amd}
	arm64Info := info(t, "NUMBER(VA_BITS)=52\nNUMBER(kimage_voffset)=0xffffc728acc00000\n")
	for _, c := range []struct {
		name        string
		h           arch.Hints
		want        string // architecture name, or "" for an UnsupportedError
		wantMessage string
	}{
		{"ELF machine", arch.Hints{ELFMachine: elf.EM_X86_64, HeaderMachine: "aarch64"}, "x86_64", ""},
		{"ELF aarch64", arch.Hints{ELFMachine: elf.EM_AARCH64}, "", "arm64 (aarch64)"},
		{"ELF unknown machine", arch.Hints{ELFMachine: elf.Machine(9999)}, "", "ELF machine 9999"},
		{"header", arch.Hints{HeaderMachine: "x86_64"}, "x86_64", ""},
		{"header aarch64", arch.Hints{HeaderMachine: "aarch64", Info: info(t, "SYMBOL(init_top_pgt)=ffffffff8260a000\n")}, "", "aarch64, arm64 (aarch64)"},
		{"header unknown name", arch.Hints{HeaderMachine: "vax"}, "", "vax"},
		{"header name with escapes", arch.Hints{HeaderMachine: "\x1b[2Jvax"}, "", `"\x1b[2Jvax"`},
		{"QEMU's Unknown, VMCOREINFO x86_64", arch.Hints{HeaderMachine: "Unknown", Info: info(t, "SYMBOL(init_top_pgt)=ffffffff8260a000\n")}, "x86_64", ""},
		{"QEMU's Unknown, VMCOREINFO arm64", arch.Hints{HeaderMachine: "Unknown", Info: arm64Info, PRStatusSizes: []int{336}}, "", "arm64"},
		{"note size", arch.Hints{PRStatusSizes: []int{336, 336}}, "x86_64", ""},
		{"note sizes disagree", arch.Hints{PRStatusSizes: []int{336, 392}}, "", "names no machine"},
		{"nothing", arch.Hints{}, "", "names no machine"},
	} {
		t.Run(c.name, func(t *testing.T) {
			a, err := arch.Detect(supported, c.h)
			if c.want != "" {
				if err != nil || a.Name() != c.want {
					t.Fatalf("Detect = %v, %v; want %s", a, err, c.want)
				}
				return
			}
			var ue *arch.UnsupportedError
			if a != nil || !errors.As(err, &ue) || !errors.Is(err, arch.ErrUnsupported) {
				t.Fatalf("Detect = %v, %v; want an *UnsupportedError", a, err)
			}
			if strings.ContainsRune(err.Error(), 0x1b) {
				t.Errorf("message %q holds an escape character", err)
			}
			if !strings.HasPrefix(err.Error(), "unsupported: ") || !strings.Contains(err.Error(), c.wantMessage) {
				t.Errorf("message %q, want it to start with \"unsupported: \" and name %q", err, c.wantMessage)
			}
		})
	}
}

func TestRegsJSON(t *testing.T) {
	r := arch.Regs{List: []arch.Register{{"pc", 0xffff800080000000}, {"x0", 1}}, PC: 0xffff800080000000}
	b, err := json.Marshal(r)
	if err != nil || string(b) != `{"pc":"0xffff800080000000","x0":"0x1"}` {
		t.Errorf("%s %v", b, err)
	}
	if v, ok := r.Get("x0"); !ok || v != 1 {
		t.Errorf("Get(x0) = %d, %v", v, ok)
	}
	if _, ok := r.Get("x1"); ok {
		t.Errorf("Get(x1) found")
	}
	p := arch.Regs{List: []arch.Register{{"rip", 1}}, Partial: true, PartialNote: "iret frame only"}
	if b, _ := json.Marshal(p); string(b) != `{"rip":"0x1","partial":"iret frame only"}` {
		t.Errorf("partial: %s", b)
	}
	if b, _ := json.Marshal(arch.Regs{}); string(b) != `{}` || !(&arch.Regs{}).Empty() {
		t.Errorf("empty: %s", b)
	}
}
