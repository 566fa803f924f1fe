package fakeprog_test

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/panicscope/panicscope/internal/fakeprog"
	"github.com/panicscope/panicscope/vmcore/analysis"
	"github.com/panicscope/panicscope/vmcore/target"
)

func TestSmoke(t *testing.T) {
	s := fakeprog.NewScenario()
	p := filepath.Join(t.TempDir(), "vmcore")
	if err := s.WriteFile(p); err != nil {
		t.Fatal(err)
	}
	tg, err := target.Open(p, target.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer tg.Close()
	r := analysis.Build(tg)
	b, _ := json.MarshalIndent(r, "", " ")
	t.Logf("%s", b)
}
