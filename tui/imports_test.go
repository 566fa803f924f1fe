package tui

import (
	"go/build"
	"strings"
	"testing"
)

// TestImports: tui draws through views and the charm libraries only; the
// dump reaches it through Source, implemented outside the package, so
// nothing here can read a dump by itself.
func TestImports(t *testing.T) {
	pkg, err := build.Import("github.com/panicscope/panicscope/tui", ".", 0)
	if err != nil {
		t.Fatal(err)
	}
	const module = "github.com/panicscope/panicscope/"
	for _, imp := range append(pkg.Imports, pkg.TestImports...) {
		switch {
		case imp == module+"views":
		case strings.HasPrefix(imp, module):
			t.Errorf("tui imports %s: only views may be imported from this module", imp)
		case strings.HasPrefix(imp, "charm.land/"), strings.HasPrefix(imp, "github.com/charmbracelet/"):
		case !strings.Contains(strings.Split(imp, "/")[0], "."):
			// the standard library
		default:
			t.Errorf("tui imports %s: the TUI needs only views, the standard library and the charm libraries", imp)
		}
	}
}
