package main

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestCompletionAndManCoverEveryFlag: the generated scripts and man page
// name every command and every flag its FlagSet defines.
func TestCompletionAndManCoverEveryFlag(t *testing.T) {
	var bash, fish, man bytes.Buffer
	writeBash(&bash)
	writeFish(&fish)
	writeMan(&man, time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC))
	for _, c := range commands() {
		if !strings.Contains(bash.String(), "    "+c.name+") local flags=") {
			t.Errorf("bash completion lacks %s", c.name)
		}
		if !strings.Contains(man.String(), ".B "+roff(c.name)+" ") {
			t.Errorf("man page lacks %s", c.name)
		}
		for _, f := range commandFlagNames(c) {
			name := strings.TrimPrefix(f, "--")
			if !strings.Contains(fish.String(), "__fish_seen_subcommand_from "+c.name+"' -l "+name+" ") {
				t.Errorf("fish completion lacks %s %s", c.name, f)
			}
			if !strings.Contains(man.String(), `.B \-\-`+roff(name)) {
				t.Errorf("man page lacks %s %s", c.name, f)
			}
		}
	}
	if len(commandFlagNames(command{name: "bt", run: runBt})) < 6 {
		t.Errorf("bt flags not found: %v", commandFlagNames(command{name: "bt", run: runBt}))
	}
	if sh, err := exec.LookPath("bash"); err == nil {
		cmd := exec.Command(sh, "-n")
		cmd.Stdin = &bash
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("bash -n: %v\n%s", err, out)
		}
	}
}
