#!/usr/bin/env bash
# scripts/tmux-check.sh BINARY
#
# Drives the TUI in a real terminal: tmux at 80x24, against the kdump fixture
# (../shared/vmcores/kdump-6.1-lzo/vmcore, skipped when absent) and against
# `BINARY demo`. Keys: 2 (Timeline), Enter (expand), 5 (Log), /panic Enter
# (search), 6 Enter (a CPU's backtrace), Esc, :ps Enter (the command line),
# Esc, q (quit); each screen is
# captured with capture-pane and checked. Then the terminal types: with
# TERM=vt100 no colour reaches the screen; with TERM=dumb the program stays
# on the main screen and sends no keyboard-protocol or mode queries (its
# raw output is recorded through script(1)). A text file given as DUMP is an
# error before the screen is taken. Exits non-zero on a failed check.
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 BINARY" >&2
  exit 2
fi
bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
root=$(cd "$(dirname "$0")/.." && pwd)
[ -x "$bin" ] || { echo "tmux-check: $bin is not executable" >&2; exit 2; }

if ! command -v tmux >/dev/null 2>&1; then
  echo "tmux-check: installing tmux"
  apt-get install -y tmux >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y tmux >/dev/null; }
fi

# A private tmux server per session, so nothing else running in tmux is
# touched and a server still shutting down is never reused.
runs=0
sock="panicscope-check-$$-0"
t() { tmux -L "$sock" "$@"; }
cleanup() { t kill-server >/dev/null 2>&1 || true; }
trap cleanup EXIT

failures=0
screen=""

capture() { screen=$(t capture-pane -p -t check 2>/dev/null || true); }

# wait_for TEXT...: wait up to 10 s until the screen holds every TEXT.
wait_for() {
  local deadline=$((SECONDS + 10)) ok
  while :; do
    capture
    ok=1
    for want in "$@"; do
      grep -qF -- "$want" <<<"$screen" || ok=0
    done
    [ $ok = 1 ] && return 0
    [ $SECONDS -ge $deadline ] && return 1
    sleep 0.1
  done
}

# wait_any TEXT...: wait up to 10 s until the screen holds one of the TEXTs.
wait_any() {
  local deadline=$((SECONDS + 10))
  while :; do
    capture
    for want in "$@"; do
      grep -qF -- "$want" <<<"$screen" && return 0
    done
    [ $SECONDS -ge $deadline ] && return 1
    sleep 0.1
  done
}

# check WHAT TEXT...: wait for the texts or record a failure with the screen.
check() {
  local what=$1
  shift
  if wait_for "$@"; then
    echo "  ok    $what"
  else
    echo "  FAIL  $what: expected $(printf '"%s" ' "$@")on the screen:"
    sed 's/^/        |/' <<<"$screen"
    failures=$((failures + 1))
    return 1
  fi
}

keys() { t send-keys -t check "$@"; sleep 0.2; }

# start NAME ENV ARGS...: run the binary in a fresh 80x24 session; the shell
# prints "[exit N]" when it ends so a quick failure stays readable.
start() {
  local name=$1 env=$2
  shift 2
  start_cmd "$name" "$env" "$bin" "$@"
}

# start_cmd NAME ENV COMMAND ARGS...: as start, for any command.
start_cmd() {
  local name=$1 env=$2
  shift 2
  cleanup
  runs=$((runs + 1))
  sock="panicscope-check-$$-$runs"
  echo "== $name"
  t new-session -d -s check -x 80 -y 24 \
    "env $env $(printf '%q ' "$@"); echo \"[exit \$?]\"; sleep 600"
}

# session DUMP_LABEL ENV ARGS...: the key sequence of the brief.
session() {
  local label=$1 env=$2
  shift 2
  start "$label" "$env" "$@"
  check "overview shows the verdict" "[1 Overview]" "Verdict" || return 0
  check "analysis loaded" "Captured" "${verdict:-Verdict}" || return 0
  keys 2
  check "timeline" "[2 Timeline]" "crash_kexec" "row " || return 0
  keys Enter
  check "enter expands the step" "${expanded:-__crash_kexec}" || return 0
  keys 5
  check "log page at the panic" "[5 Log]" "Kernel panic" || return 0
  keys / p a n i c Enter
  check "search for panic" "/panic " || return 0
  keys 6 Enter
  check "enter opens the full backtrace" "Backtrace of CPU" "frames, innermost first" || return 0
  keys Escape
  keys : p s Enter
  check "the command line runs ps" ":ps" "PID" "COMM" || return 0
  keys Escape
  keys q
  check "q quits with status 0" "[exit 0]" || return 0
}

fixture="$root/../shared/vmcores/kdump-6.1-lzo/vmcore"
if [ -f "$fixture" ]; then
  verdict="kdump ran before the panic notifiers"
  session "kdump-6.1-lzo (Unicode)" "TERM=xterm-256color" "$fixture"
  session "kdump-6.1-lzo (TERM=vt100: ASCII, NO_COLOR)" "TERM=vt100 NO_COLOR=1" "$fixture"
  verdict=""
  start "kdump-6.1-lzo ASCII timeline" "TERM=vt100" "$fixture"
  if check "ASCII timeline" "Captured"; then
    keys 2
    if check "ASCII marks" "> >  2 crash_kexec" "+  1 message"; then
      if LC_ALL=C grep -q '[^ -~]' <<<"$screen"; then
        echo "  FAIL  non-ASCII characters on a vt100 screen:"
        sed 's/^/        |/' <<<"$screen"
        failures=$((failures + 1))
      else
        echo "  ok    only ASCII on the screen"
      fi
    fi
    keys q
  fi
else
  echo "== kdump-6.1-lzo: skipped ($fixture absent)"
fi

# fail WHAT: record a failure with the screen.
fail() {
  echo "  FAIL  $1"
  sed 's/^/        |/' <<<"$screen"
  failures=$((failures + 1))
}

# Colour SGR parameters (foreground, background, 256/true colour) in the
# pane's escape-coded capture.
colour_re=$'\e\[([0-9]*;)*(3[0-8]|4[0-8]|9[0-7]|10[0-7])(;[0-9]*)*m'

# terminal_types: TERM=vt100 and TERM=dumb at 80x24 on the demo dump (no
# fixture needed); TERM=xterm-256color is the control that shows the checks
# can see colour, the alternate screen and the queries.
terminal_types() {
  local raw term
  for term in xterm-256color vt100 dumb; do
    raw=$(mktemp)
    start_cmd "demo, TERM=$term (raw output recorded)" "TERM=$term" script -qfec "$(printf '%q ' "$bin" demo)" "$raw"
    if ! check "overview drawn" "[1 Overview]" "Verdict"; then
      rm -f "$raw"
      continue
    fi
    local alt colour
    alt=$(t display-message -p -t check '#{alternate_on}')
    colour=0
    t capture-pane -e -p -t check | grep -qE "$colour_re" && colour=1
    case $term in
    xterm-256color)
      [ "$alt" = 1 ] && echo "  ok    alternate screen" || fail "no alternate screen on $term"
      [ $colour = 1 ] && echo "  ok    colour" || fail "no colour on $term (the colour check sees nothing)"
      ;;
    vt100)
      [ $colour = 0 ] && echo "  ok    no colour" || fail "colour on a vt100"
      ;;
    dumb)
      [ "$alt" = 0 ] && echo "  ok    main screen" || fail "alternate screen on a dumb terminal"
      [ $colour = 0 ] && echo "  ok    no colour" || fail "colour on a dumb terminal"
      ;;
    esac
    keys q
    check "q quits with status 0" "[exit 0]" || true
    # Keyboard protocols (modifyOtherKeys, kitty) and mode queries (DECRQM).
    local queries
    queries=$(grep -cE $'\e\\[(>4;[0-9]*m|>[0-9]+u|[?]u|[?][0-9]+[$]p)' "$raw" || true)
    case $term in
    xterm-256color) [ "$queries" -gt 0 ] && echo "  ok    keyboard queries sent" || fail "no keyboard queries seen on $term (the check sees nothing)" ;;
    *) [ "$queries" = 0 ] && echo "  ok    no keyboard queries" || fail "keyboard queries sent to TERM=$term" ;;
    esac
    if [ $term = dumb ]; then
      grep -qF $'\e[?1049h' "$raw" && fail "alternate screen sequence sent to TERM=dumb" || echo "  ok    no alternate screen sequence"
    fi
    rm -f "$raw"
  done
}

# not_a_dump: a text file is an error straight away, on the main screen.
not_a_dump() {
  local txt
  txt=$(mktemp)
  echo "not a crash dump" >"$txt"
  start "a text file as DUMP" "TERM=xterm-256color" "$txt"
  check "the error shows at once" "not a recognised crash dump" "[exit 1]" || true
  rm -f "$txt"
}

# The demo is the oops + pstore dump: no crash kernel, so the running step
# (the cursor's start) is the final loop of panic().
verdict="no crash kernel" expanded="final loop of panic()"
session "demo" "TERM=xterm-256color" demo
verdict="" expanded=""

terminal_types
not_a_dump

if [ $failures -gt 0 ]; then
  echo "tmux-check: $failures check(s) failed"
  exit 1
fi
echo "tmux-check: all checks passed"
