#!/usr/bin/env bash
# bench.sh: `panicscope report --json` against drgn 0.0.31 doing the same job
# (dmesg + panic_notifier_list walk, module callbacks named from the
# modules' kallsyms) on the kdump-6.1-lzo fixture with Debian's 6.1 DWARF
# vmlinux; wall time with hyperfine, peak RSS with /usr/bin/time -v.
#
#   scripts/bench.sh [FIXTURE_DIR]    (default ../shared/vmcores/kdump-6.1-lzo)
#
# Needs root (apt-get, debootstrap, chroot). Everything it fetches lives in
# ~/.cache/panicscope-lab, never in the repository:
#   dbg/          linux-image-6.1.0-56-amd64-dbg, unpacked vmlinux only
#   trixie-root/  a minimal Debian trixie (python3-drgn 0.0.31 needs trixie's
#                 Python 3.13, so it runs in a chroot on a bookworm host)
# Packages come from the host's own Debian mirror (its apt sources).
# Environment: RUNS (default 30), WARMUP (default 3); RT=1 runs the timing
# under SCHED_FIFO (chrt -f 10), which approximates an idle machine when
# other jobs share its CPUs (both tools get the same treatment). Only the
# timed runs get it: never put a build (go build, go test) under chrt, its
# helper processes can spin and starve the machine.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
fixture=${1:-$repo/../shared/vmcores/kdump-6.1-lzo}
release=6.1.0-56-amd64
cache=${XDG_CACHE_HOME:-$HOME/.cache}/panicscope-lab
runs=${RUNS:-30}
warmup=${WARMUP:-3}
sched=()
[ "${RT:-0}" = 1 ] && sched=(chrt -f 10)

die() { echo "bench.sh: $*" >&2; exit 1; }
[ -f "$fixture/vmcore" ] || die "no $fixture/vmcore"
[ "$(id -u)" = 0 ] || die "needs root (apt-get, debootstrap, chroot)"

mirror() { # the host's Debian mirror, from its apt sources
	apt-get indextargets --format '$(REPO_URI) $(CODENAME)' 2>/dev/null |
		awk '$2 == "bookworm" || $2 == "trixie" { print $1; exit }'
}

need() { # need COMMAND PACKAGE
	command -v "$1" >/dev/null || { apt-get update -qq && apt-get install -y -qq "$2" >/dev/null; }
}
need hyperfine hyperfine
need debootstrap debootstrap
[ -x /usr/bin/time ] || { apt-get update -qq && apt-get install -y -qq time >/dev/null; }

# The DWARF vmlinux, checked against the build ID the fixtures recorded.
vmlinux=$cache/dbg/usr/lib/debug/boot/vmlinux-$release
if [ ! -f "$vmlinux" ]; then
	mkdir -p "$cache/dbg"
	(cd "$cache/dbg" && apt-get download "linux-image-$release-dbg")
	deb=$(ls "$cache/dbg"/linux-image-"$release"-dbg_*.deb | tail -1)
	dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$cache/dbg" "./usr/lib/debug/boot/vmlinux-$release"
	rm -f "$deb"
fi
want=$(cat "$fixture/../kernels/$release/vmlinux.build-id" 2>/dev/null || true)
got=$(readelf -n "$vmlinux" | awk '/Build ID/ { print $3; exit }')
[ -z "$want" ] || [ "$want" = "$got" ] || die "vmlinux build ID $got, the dump's kernel has $want"

# drgn 0.0.31 (Debian trixie's python3-drgn) in a trixie chroot.
root=$cache/trixie-root
if [ ! -x "$root/usr/bin/drgn" ]; then
	m=$(mirror)
	[ -n "$m" ] || die "no Debian mirror in the apt sources"
	debootstrap --variant=minbase --include=python3-drgn trixie "$root" "$m"
fi
drgn_version=$(chroot "$root" python3 -c 'import drgn; print(drgn.__version__)')
mkdir -p "$root/bench"
ln -f "$vmlinux" "$root/bench/vmlinux" 2>/dev/null || cp "$vmlinux" "$root/bench/vmlinux"
cp "$fixture/vmcore" "$root/bench/vmcore"
cat >"$root/bench/panic.py" <<'EOF'
# dmesg + panic_notifier_list walk: the part of `panicscope report` drgn is
# measured on.
import json
from drgn.helpers.linux.kallsyms import load_module_kallsyms
from drgn.helpers.linux.printk import get_dmesg

# Module callbacks are named from the modules' own kallsyms, as panicscope does.
prog.register_symbol_finder("module_kallsyms", load_module_kallsyms(prog), enable_index=-1)
dmesg = get_dmesg(prog)
chain = []
nb = prog["panic_notifier_list"].head
while nb:
    fn = nb.notifier_call.value_()
    try:
        sym = prog.symbol(fn).name
    except LookupError:
        sym = None
    chain.append({"notifier_block": hex(nb.value_()), "call": hex(fn), "symbol": sym,
                  "priority": nb.priority.value_()})
    nb = nb.next
print(json.dumps({"dmesg_bytes": len(dmesg), "panic_notifier_list": chain}, indent=1))
EOF

bin=$cache/panicscope-bench
(cd "$repo" && CGO_ENABLED=0 go build -o "$bin" ./cmd/panicscope)

ps_cmd=("$bin" report --json "$fixture/vmcore")
drgn_cmd=(chroot "$root" drgn -q -c /bench/vmcore -s /bench/vmlinux --main-symbols /bench/panic.py)

# Both must do their job before they are timed.
ps_out=$("${ps_cmd[@]}") || die "panicscope failed"
drgn_out=$("${drgn_cmd[@]}") || die "drgn failed"
grep -q '"pvpanic_panic_notify"' <<<"$ps_out" || die "panicscope did not name pvpanic_panic_notify"
grep -q '"pvpanic_panic_notify"' <<<"$drgn_out" || die "drgn did not name pvpanic_panic_notify"

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo "fixture: $fixture/vmcore; drgn $drgn_version; $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)${sched[*]:+; under ${sched[*]}}"
"${sched[@]}" hyperfine -N --warmup "$warmup" --runs "$runs" --export-json "$out/h.json" \
	-n "panicscope report --json" "${ps_cmd[*]}" \
	-n "drgn $drgn_version (dmesg + panic_notifier_list)" "${drgn_cmd[*]}"

peak() { # peak RSS in KiB, the largest of 5 runs
	local max=0 v
	for _ in 1 2 3 4 5; do
		v=$(/usr/bin/time -v "$@" 2>&1 >/dev/null | awk -F': ' '/Maximum resident set size/ { print $2 }')
		[ "$v" -gt "$max" ] && max=$v
	done
	echo "$max"
}
ps_rss=$(peak "${ps_cmd[@]}")
drgn_rss=$(peak "${drgn_cmd[@]}")

python3 - "$out/h.json" "$ps_rss" "$drgn_rss" <<'EOF'
import json, sys
h = json.load(open(sys.argv[1]))["results"]
ps, dr = h[0], h[1]
print()
print(f"panicscope: median {ps['median']*1000:.1f} ms (mean {ps['mean']*1000:.1f} ± {ps['stddev']*1000:.1f}), peak RSS {int(sys.argv[2])/1024:.1f} MiB")
print(f"drgn:       median {dr['median']*1000:.1f} ms (mean {dr['mean']*1000:.1f} ± {dr['stddev']*1000:.1f}), peak RSS {int(sys.argv[3])/1024:.1f} MiB")
print(f"ratio:      {ps['median']/dr['median']:.3f}× drgn's median time")
EOF
