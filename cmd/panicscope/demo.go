package main

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/panicscope/panicscope/vmcore/target"
)

// demoFixture is the fixture the embedded dump was trimmed from
// (scripts/make-demo.sh): an oops with panic_on_oops in QEMU, notifiers
// and kmsg dumpers that left log lines, pstore/ramoops records, and every
// step of panic() through its final loop.
const demoFixture = "qemu-6.1-lp-oops-pstore"

// demoFile is the embedded dump's name under demodata/.
const demoFile = demoFixture + ".vmcore"

// demoData holds demodata/ (the whole folder, so the binary builds before
// the dump is generated).
//
//go:embed demodata
var demoData embed.FS

// demoBytes returns the embedded dump.
func demoBytes() ([]byte, error) {
	b, err := demoData.ReadFile("demodata/" + demoFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errors.New("this binary was built without its demo dump (run scripts/make-demo.sh)")
	}
	return b, err
}

// demoDump extracts the small dump embedded in the binary and returns its
// path and a function that removes it. The file is named
// DIR/qemu-6.1-lp-oops-pstore/vmcore, so views that show the dump's
// folder and name show the fixture's.
func demoDump() (path string, cleanup func(), err error) {
	b, err := demoBytes()
	if err != nil {
		return "", func() {}, err
	}
	dir, err := os.MkdirTemp("", "panicscope-demo-")
	if err != nil {
		return "", func() {}, fmt.Errorf("demo dump: %w", err)
	}
	cleanup = func() { os.RemoveAll(dir) }
	path = filepath.Join(dir, demoFixture, "vmcore")
	if err := os.Mkdir(filepath.Dir(path), 0o755); err != nil {
		cleanup()
		return "", func() {}, fmt.Errorf("demo dump: %w", err)
	}
	if err := os.WriteFile(path, b, 0o444); err != nil {
		cleanup()
		return "", func() {}, fmt.Errorf("demo dump: %w", err)
	}
	return path, cleanup, nil
}

// openDemo opens the embedded dump from memory, without a temporary file
// (for commands that take a target rather than a path).
func openDemo(opt target.Options) (*target.Target, error) {
	b, err := demoBytes()
	if err != nil {
		return nil, err
	}
	return target.OpenReaderAt(bytes.NewReader(b), int64(len(b)), demoFixture+"/vmcore (built in)", opt)
}
