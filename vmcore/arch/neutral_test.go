package arch_test

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// machineSpecific are the packages allowed to name a machine's registers:
// the architecture implementations, the notes they decode, the ORC and
// frame-record walkers, the disassembler, and the fake x86_64 kernel and
// QEMU lab of the tests.
var machineSpecific = []string{"vmcore/arch", "vmcore/x86", "vmcore/arm64", "vmcore/notes", "vmcore/unwind", "vmcore/disasm", "internal/fakeprog", "lab"}

// x86Registers are identifiers and strings that name an x86_64 register
// (and, added in init, arm64's x0..x30 and pstate).
var x86Registers = map[string]bool{}

func init() {
	for _, r := range []string{"rip", "rsp", "rbp", "rax", "rbx", "rcx", "rdx", "rsi", "rdi",
		"r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "eflags", "rflags", "orig_rax",
		"cr0", "cr2", "cr3", "cr4", "fs_base", "gs_base"} {
		x86Registers[r] = true
		x86Registers[strings.ToUpper(r)] = true
	}
	for _, r := range []string{"OrigRAX", "EFLAGS", "RFlags", "FSBase", "GSBase"} {
		x86Registers[r] = true
	}
	// arm64's general registers and PSTATE (user_pt_regs) count too.
	for i := range 31 {
		x86Registers[fmt.Sprintf("x%d", i)] = true
	}
	x86Registers["pstate"] = true
}

// TestNoRegisterNamesOutsideArch: the neutral layers (vmcore, analysis,
// views, tui, cmd ...) name no x86 register, as an identifier or a string:
// registers reach them as arch.Regs.
func TestNoRegisterNamesOutsideArch(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	checked := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			for _, p := range machineSpecific {
				if rel == p {
					return filepath.SkipDir
				}
			}
			if strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		checked++
		ast.Inspect(f, func(n ast.Node) bool {
			name := ""
			switch x := n.(type) {
			case *ast.Ident:
				name = x.Name
			case *ast.BasicLit:
				if x.Kind == token.STRING {
					name, _ = strconv.Unquote(x.Value)
				}
			}
			if x86Registers[name] {
				t.Errorf("%s: names the x86 register %q outside the architecture packages", fset.Position(n.Pos()), name)
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 20 {
		t.Fatalf("only %d files checked under %s", checked, root)
	}
}
