package main

// Shell completions and the man page, generated from the same command table
// and flag sets as --help, so they cannot drift from the binary.

import (
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// commandFlagNames lists a command's flags, sorted, as "--name".
func commandFlagNames(c command) []string {
	var out []string
	if fs := commandFlags(c); fs != nil {
		fs.VisitAll(func(f *flag.Flag) { out = append(out, "--"+f.Name) })
	}
	sort.Strings(out)
	return out
}

func runCompletion(args []string, stdout, stderr io.Writer) error {
	if len(args) != 1 {
		return usagef("usage: panicscope completion bash|zsh|fish")
	}
	switch args[0] {
	case "bash":
		writeBash(stdout)
	case "zsh":
		// zsh reads bash completions through bashcompinit.
		fmt.Fprintln(stdout, "autoload -U +X bashcompinit && bashcompinit")
		writeBash(stdout)
	case "fish":
		writeFish(stdout)
	default:
		return usagef("completion: %q: want bash, zsh or fish", args[0])
	}
	return nil
}

func writeBash(w io.Writer) {
	var names []string
	fmt.Fprintln(w, "# panicscope completion for bash: source <(panicscope completion bash)")
	fmt.Fprintln(w, "_panicscope() {")
	fmt.Fprintln(w, `  local cur=${COMP_WORDS[COMP_CWORD]} cmd=${COMP_WORDS[1]}`)
	fmt.Fprintln(w, `  case "$cmd" in`)
	for _, c := range commands() {
		names = append(names, c.name)
		fmt.Fprintf(w, "    %s) local flags=%q ;;\n", c.name, strings.Join(commandFlagNames(c), " "))
	}
	fmt.Fprintf(w, "    *) local flags=%q ;;\n", "--ascii --symbols --vmlinux --force --help --version")
	fmt.Fprintln(w, "  esac")
	fmt.Fprintln(w, `  if [ "$COMP_CWORD" -eq 1 ]; then`)
	fmt.Fprintf(w, "    COMPREPLY=($(compgen -W %q -- \"$cur\") $(compgen -f -- \"$cur\"))\n", strings.Join(names, " ")+" --help --version")
	fmt.Fprintln(w, `  elif [[ $cur == -* ]]; then`)
	fmt.Fprintln(w, `    COMPREPLY=($(compgen -W "$flags" -- "$cur"))`)
	fmt.Fprintln(w, `  else`)
	fmt.Fprintln(w, `    COMPREPLY=($(compgen -f -- "$cur"))`)
	fmt.Fprintln(w, `  fi`)
	fmt.Fprintln(w, "}")
	fmt.Fprintln(w, "complete -o filenames -F _panicscope panicscope")
}

func writeFish(w io.Writer) {
	fmt.Fprintln(w, "# panicscope completion for fish: panicscope completion fish | source")
	fmt.Fprintln(w, "complete -c panicscope -f")
	for _, c := range commands() {
		fmt.Fprintf(w, "complete -c panicscope -n __fish_use_subcommand -a %s -d %s\n", c.name, fishQuote(c.help))
		if fs := commandFlags(c); fs != nil {
			fs.VisitAll(func(f *flag.Flag) {
				_, usage := flag.UnquoteUsage(f)
				fmt.Fprintf(w, "complete -c panicscope -n '__fish_seen_subcommand_from %s' -l %s -d %s\n", c.name, f.Name, fishQuote(usage))
			})
		}
	}
	fmt.Fprintln(w, "complete -c panicscope -n '__fish_seen_subcommand_from info sym report plan log type bt trim ps mod struct p rd list dis' -F")
}

func fishQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `\'`) + "'"
}

func runMan(args []string, stdout, stderr io.Writer) error {
	if len(args) != 0 {
		return usagef("usage: panicscope man  (prints the man page: panicscope man | man -l -)")
	}
	writeMan(stdout, time.Now())
	return nil
}

// roff escapes text for a man page: backslashes, and a leading dot or quote.
func roff(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	s = strings.ReplaceAll(s, "-", `\-`)
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		s = `\&` + s
	}
	return s
}

func writeMan(w io.Writer, now time.Time) {
	fmt.Fprintf(w, ".TH PANICSCOPE 1 %q %q \"User Commands\"\n", now.Format("2006-01-02"), versionString())
	fmt.Fprintln(w, ".SH NAME\npanicscope \\- show the order in which a Linux kernel panic ran, from a crash dump")
	fmt.Fprintln(w, ".SH SYNOPSIS\n.B panicscope\n.I DUMP\n[flags]\n.br\n.B panicscope\n.I COMMAND\n[flags]")
	fmt.Fprintln(w, ".SH DESCRIPTION")
	fmt.Fprintln(w, roff("panicscope reads a kdump or QEMU crash dump (or the running kernel with --live) without a debuginfo vmlinux: symbols come from kallsyms in memory, types from the kernel's BTF. It shows which steps of panic() ran, which were skipped and why, and which was running when the dump was taken, with the evidence for each."))
	fmt.Fprintln(w, ".SH COMMANDS")
	for _, c := range commands() {
		fmt.Fprintf(w, ".TP\n.B %s %s\n%s\n", roff(c.name), roff(c.args), roff(c.help))
		if fs := commandFlags(c); fs != nil {
			fs.VisitAll(func(f *flag.Flag) {
				name, usage := flag.UnquoteUsage(f)
				fmt.Fprintf(w, ".RS\n.TP\n.B \\-\\-%s", roff(f.Name))
				if name != "" {
					fmt.Fprintf(w, " \\fI%s\\fR", roff(name))
				}
				fmt.Fprintf(w, "\n%s\n.RE\n", roff(usage))
			})
		}
	}
	fmt.Fprintln(w, ".SH EXIT STATUS\n0 success, 1 failure, 2 usage error.")
	fmt.Fprintln(w, ".SH ENVIRONMENT\n.TP\n.B NO_COLOR\nno colour in the interactive view.\n.TP\n.B TERM\ndumb, vt100, vt220, linux: ASCII drawing.")
	fmt.Fprintln(w, ".SH SEE ALSO\ncrash(8), makedumpfile(8), kdump(8)")
}
