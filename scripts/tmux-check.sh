#!/usr/bin/env bash
# scripts/tmux-check.sh BINARY
#
# Drives the TUI in a real terminal: tmux at 80x24, against the kdump fixture
# (../shared/vmcores/kdump-6.1-lzo/vmcore, skipped when absent) and against
# `BINARY demo`. Keys: 2 (Timeline),
# Enter (expand), 5 (Log), /panic Enter (search), q (quit); each screen is
# captured with capture-pane and checked. Exits non-zero on a failed check.
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
  cleanup
  runs=$((runs + 1))
  sock="panicscope-check-$$-$runs"
  echo "== $name"
  t new-session -d -s check -x 80 -y 24 \
    "env $env $(printf '%q ' "$bin" "$@"); echo \"[exit \$?]\"; sleep 600"
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

# The demo is the oops + pstore dump: no crash kernel, so the running step
# (the cursor's start) is the final loop of panic().
verdict="no crash kernel" expanded="final loop of panic()"
session "demo" "TERM=xterm-256color" demo
verdict="" expanded=""

if [ $failures -gt 0 ]; then
  echo "tmux-check: $failures check(s) failed"
  exit 1
fi
echo "tmux-check: all checks passed"
