package layers

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const module = "github.com/panicscope/panicscope"

// allowed reads the package table of docs/ARCHITECTURE.md: package → the
// module packages (patterns) it may import.
func allowed(t *testing.T) map[string][]string {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "docs", "ARCHITECTURE.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	code := regexp.MustCompile("`([^`]+)`")
	rows := map[string][]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		cells := strings.Split(sc.Text(), "|")
		if len(cells) != 5 || !strings.HasPrefix(strings.TrimSpace(cells[1]), "`") {
			continue
		}
		pkg := strings.Trim(strings.TrimSpace(cells[1]), "`")
		var deps []string
		for _, m := range code.FindAllStringSubmatch(cells[3], -1) {
			deps = append(deps, m[1])
		}
		rows[pkg] = deps
	}
	if len(rows) < 10 {
		t.Fatalf("docs/ARCHITECTURE.md: only %d package rows found", len(rows))
	}
	return rows
}

type listed struct {
	ImportPath string
	Imports    []string
}

// TestImportsMatchArchitecture: every package of the module has a row, and
// imports only what its row allows.
func TestImportsMatchArchitecture(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command on PATH")
	}
	rows := allowed(t)
	cmd := exec.Command("go", "list", "-json=ImportPath,Imports", module+"/...")
	cmd.Dir = filepath.Join("..", "..")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	seen := map[string]bool{}
	for {
		var p listed
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")
		seen[rel] = true
		deps, ok := rows[rel]
		if !ok {
			t.Errorf("%s has no row in docs/ARCHITECTURE.md", rel)
			continue
		}
		for _, imp := range p.Imports {
			if !strings.HasPrefix(imp, module+"/") {
				continue
			}
			dep := strings.TrimPrefix(imp, module+"/")
			if !matchAny(deps, dep) {
				t.Errorf("%s imports %s, which its row in docs/ARCHITECTURE.md does not allow (%v)", rel, dep, deps)
			}
		}
	}
	for pkg := range rows {
		if !seen[pkg] {
			t.Errorf("docs/ARCHITECTURE.md lists %s, which is not a package", pkg)
		}
	}
}

func matchAny(patterns []string, pkg string) bool {
	for _, p := range patterns {
		if ok, _ := path.Match(p, pkg); ok {
			return true
		}
	}
	return false
}
