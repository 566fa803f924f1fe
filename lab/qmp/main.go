// Command qmp is a minimal QEMU Machine Protocol client for the lab: it
// connects to a QMP unix socket, negotiates capabilities and runs each
// argument (a JSON command) in order, printing the replies. A reply with
// "error" makes it exit 1. Asynchronous events are printed and skipped.
//
//	go run ./lab/qmp -socket /tmp/qmp.sock '{"execute":"query-status"}'
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"time"
)

func main() {
	sock := flag.String("socket", "", "QMP unix socket")
	timeout := flag.Duration("timeout", 10*time.Minute, "give up after this long")
	flag.Parse()
	if *sock == "" || flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: qmp -socket PATH JSON-COMMAND...")
		os.Exit(2)
	}
	if err := run(*sock, *timeout, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "qmp:", err)
		os.Exit(1)
	}
}

func run(sock string, timeout time.Duration, cmds []string) error {
	c, err := net.DialTimeout("unix", sock, 10*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.SetDeadline(time.Now().Add(timeout)); err != nil {
		return err
	}
	r := bufio.NewReaderSize(c, 1<<20)
	if _, err := reply(r, true); err != nil { // greeting
		return fmt.Errorf("greeting: %w", err)
	}
	for _, cmd := range append([]string{`{"execute":"qmp_capabilities"}`}, cmds...) {
		if !json.Valid([]byte(cmd)) {
			return fmt.Errorf("not JSON: %s", cmd)
		}
		if _, err := c.Write([]byte(cmd + "\n")); err != nil {
			return err
		}
		m, err := reply(r, false)
		if err != nil {
			if cmd == `{"execute":"quit"}` {
				return nil // QEMU may close the socket first
			}
			return fmt.Errorf("%s: %w", cmd, err)
		}
		fmt.Printf("%s -> %s\n", cmd, m)
	}
	return nil
}

// reply reads messages until a greeting (greeting=true) or a return/error.
func reply(r *bufio.Reader, greeting bool) (string, error) {
	for {
		line, err := r.ReadBytes('\n')
		if err != nil {
			return "", err
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(line, &m); err != nil {
			return "", fmt.Errorf("bad reply %q: %w", line, err)
		}
		switch {
		case greeting && m["QMP"] != nil:
			return string(line), nil
		case m["error"] != nil:
			return "", fmt.Errorf("error reply: %s", m["error"])
		case m["return"] != nil:
			return string(m["return"]), nil
		case m["event"] != nil:
			fmt.Printf("event: %s", line)
		}
	}
}
