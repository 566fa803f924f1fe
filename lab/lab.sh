#!/usr/bin/env bash
# The panicscope lab: boots Debian's 6.1 kernel under QEMU (TCG) with a
# busybox initramfs that holds a static panicscope, to prove live mode inside
# a real guest and to regenerate QEMU dumps from the repository alone.
#
#   lab/lab.sh kernel              fetch Debian's kernel package into the cache; print the vmlinuz path
#   lab/lab.sh labpanic            build lab/labpanic for the kernel in a chroot of its Debian suite (its
#                                  compiler); print the .ko path. The initramfs carries it when built:
#                                  lab.trigger=oops|panic|panic2|warn|bug on the command line crashes through it
#                                  instead of sysrq-c; lab.notifier=hang|fault adds a panic notifier that
#                                  never returns or faults.
#   lab/lab.sh initramfs           build the initramfs (busybox + static panicscope); print its path
#   lab/lab.sh live [ARG...]       boot, run `panicscope report --live --json` (and plan, and a non-root
#                                  attempt) in the guest, print the guest's own /proc and /sys values,
#                                  all between markers, then power off. ARGs go on the kernel command line.
#                                  With lab.kdump=1 crashkernel=128M the guest first loads its own kernel as
#                                  the crash kernel (kexec_file_load), so kdump is armed.
#   lab/lab.sh dump OUT [ARG...]   boot, panic the guest (echo c > /proc/sysrq-trigger) and write OUT with
#                                  QMP dump-guest-memory (format kdump-zlib); OUT.console.log is the console,
#                                  OUT.facts what the guest said just before crashing (key=value)
#   lab/lab.sh kdump OUT [ARG...]  arm kdump in the guest, panic it; the crash kernel copies /proc/vmcore to a
#                                  virtio disk that becomes OUT (an ELF core, kdump style; LAB_CRASHKERNEL=192M)
#   lab/lab.sh compress OUT        OUT.lzo, OUT.zstd, OUT.zlib: makedumpfile -l/-z/-c -d 1 of the kdump ELF core
#                                  (-d 1: makedumpfile does not know 7.x page flags; LAB_DUMP_LEVEL)
#
# Environment: LAB_CACHE (default ${XDG_CACHE_HOME:-$HOME/.cache}/panicscope-lab; kernels and initramfs go
# there, never into the repository), LAB_KERNEL (a kernel line: 5.10 bullseye, 6.1 bookworm, 6.12 trixie,
# 7.3 trixie-backports; the newest linux-image-LINE.*-amd64 of that suite, read through a private apt
# configuration in LAB_CACHE/apt), LAB_KERNEL_PKG (one package by name, default linux-image-6.1.0-56-amd64;
# LAB_APT_SUITE picks its suite), LAB_ACCEL (tcg; "kvm"
# if /dev/kvm works), LAB_TIMEOUT (seconds per boot, 300), LAB_MEM (512), LAB_SMP (2), LAB_REUSE_INITRD=1
# (boot the initramfs already built instead of rebuilding it), LAB_INITRD (where the initramfs goes; default
# in LAB_CACHE), LAB_DUMP_AFTER (dump: the console line, an extended regexp, after which the dump is taken;
# default the end of panic(), "---[ end Kernel panic").
#
# LAB_ARCH=arm64 boots Debian's arm64 kernel under qemu-system-aarch64 (TCG, -M virt, -cpu
# max,lpa2=off,pauth-impdef=on as the arm64 fixtures were made) instead: LAB_KERNEL=6.12 (trixie, the
# default) or 6.1 (bookworm); busybox-static:arm64 comes from the same suite through the private apt
# configuration (LAB_CACHE/apt/SUITE-arm64), extracted with dpkg-deb, never installed on the host; the
# guest's panicscope is GOARCH=arm64. The console is ttyAMA0; QEMU 7.2's virt machine has one UART, so the
# init script's data share it. `dump` writes OUT (kdump-zlib) and OUT.elf (ELF) from the same stopped VM.
# `kdump` arms kdump with kexec-tools:arm64 (kexec_load: Debian's arm64 kernel has no kexec_file_load) and
# the libraries its binary needs, all from the same suite, in an initramfs of its own (LAB_KEXEC=1; 512 MiB
# of RAM unless LAB_MEM says otherwise). `compress` needs a makedumpfile that reads arm64 (the host's is x86).
#
# Exit status 3 means a prerequisite is missing (qemu, a static busybox, the kernel package): the e2e test
# skips on it and says why.
set -euo pipefail
shopt -s inherit_errexit

LAB_DIR=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$LAB_DIR/.." && pwd)
LAB_CACHE=${LAB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/panicscope-lab}
LAB_ACCEL=${LAB_ACCEL:-tcg}
LAB_TIMEOUT_SET=${LAB_TIMEOUT:-}
LAB_TIMEOUT=${LAB_TIMEOUT:-300}
LAB_MEM_SET=${LAB_MEM:-}
LAB_MEM=${LAB_MEM:-512}
LAB_SMP=${LAB_SMP:-2}
LAB_ARCH=${LAB_ARCH:-amd64}
case "$LAB_ARCH" in
amd64 | x86_64) LAB_ARCH=amd64 ;;
# TCG runs arm64 several times slower than x86_64: a longer boot budget, and
# less RAM (the ELF dump is as large as the guest's RAM).
arm64 | aarch64) LAB_ARCH=arm64; LAB_KERNEL=${LAB_KERNEL:-6.12}; LAB_MEM=${LAB_MEM_SET:-384}; LAB_TIMEOUT=${LAB_TIMEOUT_SET:-900} ;;
*) echo "lab: LAB_ARCH=$LAB_ARCH: amd64 or arm64" >&2; exit 1 ;;
esac
# 1 MiB of guest RAM kept from the kernel (memmap=) for ramoops; below where
# QEMU loads the initramfs (the top of RAM).
LAB_RAMOOPS=${LAB_RAMOOPS:-0x10000000}
export PATH="$PATH:/usr/local/go/bin:/usr/sbin:/sbin"

die() { echo "lab: $*" >&2; exit 1; }
missing() { echo "lab: missing prerequisite: $*" >&2; exit 3; }

# The Debian suite and package of a kernel line (LAB_KERNEL): the newest
# linux-image-LINE.*-amd64 of that suite. LAB_KERNEL_PKG names one package
# exactly (in LAB_APT_SUITE, or the host's own sources when that is empty).
kernel_line() {
  if [ "$LAB_ARCH" = arm64 ]; then
    case "$1" in
    6.1) echo "bookworm linux-image-6.1.*-arm64" ;;
    6.12) echo "trixie linux-image-6.12.*-arm64" ;;
    *) die "LAB_ARCH=arm64 LAB_KERNEL=$1: known lines are 6.1 6.12 (or set LAB_KERNEL_PKG and LAB_APT_SUITE)" ;;
    esac
    return
  fi
  case "$1" in
  5.10) echo "bullseye linux-image-5.10.*-amd64" ;;
  6.1) echo "bookworm linux-image-6.1.*-amd64" ;;
  6.12) echo "trixie linux-image-6.12.*-amd64" ;;
  7.3) echo "trixie-backports linux-image-7.3.*-amd64" ;;
  *) die "LAB_KERNEL=$1: known lines are 5.10 6.1 6.12 7.3 (or set LAB_KERNEL_PKG and LAB_APT_SUITE)" ;;
  esac
}

# apt_private SUITE: apt options for a private configuration in the cache
# (its own sources.list, lists and archives), so a suite the host does not
# use is read without touching the host's sources. With LAB_ARCH=arm64 the
# configuration (LAB_CACHE/apt/SUITE-arm64) knows the arm64 architecture only.
APT=()
apt_private() {
  local suite=$1 dir="$LAB_CACHE/apt/$1" mirror=${LAB_APT_MIRROR:-http://deb.debian.org/debian}
  [ "$LAB_ARCH" = amd64 ] || dir="$dir-$LAB_ARCH"
  mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial" "$dir/etc/sources.list.d" "$dir/etc/preferences.d"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror $suite main" > "$dir/etc/sources.list"
  APT=(-o "Dir::Etc::SourceList=$dir/etc/sources.list" -o "Dir::Etc::SourceParts=$dir/etc/sources.list.d"
    -o "Dir::Etc::Preferences=$dir/etc/preferences" -o "Dir::Etc::PreferencesParts=$dir/etc/preferences.d"
    -o "Dir::State::Lists=$dir/lists" -o "Dir::Cache=$dir/cache" -o "Dir::State::status=/dev/null"
    -o "APT::Sandbox::User=root")
  if [ "$LAB_ARCH" != amd64 ]; then APT+=(-o "APT::Architecture=$LAB_ARCH" -o "APT::Architectures::=$LAB_ARCH"); fi
  if ! ls "$dir"/lists/*Packages* >/dev/null 2>&1 || [ -n "$(find "$dir/lists" -maxdepth 1 -name '*Packages*' -mtime +1)" ]; then
    apt-get "${APT[@]}" update >&2 || missing "apt-get update of $suite ($mirror)"
  fi
}

# resolve_pkg PATTERN: the newest package of the suite whose name matches the
# glob (the plain flavour: no -dbg, -unsigned, cloud or rt).
resolve_pkg() {
  local pat=$1
  case "$pat" in *'*'*) ;; *) echo "$pat"; return ;; esac
  local re
  re="^$(echo "$pat" | sed 's/\./\\./g; s/\*/.*/g')\$"
  # Debian names the plain flavour linux-image-6.1.0-56-amd64 or
  # linux-image-7.3.4+deb13-amd64; drop cloud, rt and unsigned.
  apt-cache "${APT[@]}" pkgnames linux-image- 2>/dev/null | grep -E "$re" | grep -Ev -- '-(cloud|rt|unsigned)-|-unsigned$' |
    sort -V | tail -n1
}

cmd_kernel() {
  command -v apt-get >/dev/null || missing "apt-get (to download a Debian kernel)"
  command -v dpkg-deb >/dev/null || missing "dpkg-deb"
  local suite=${LAB_APT_SUITE:-} pkg=${LAB_KERNEL_PKG:-}
  if [ -n "${LAB_KERNEL:-}" ] && [ -z "$pkg" ]; then
    read -r suite pkg <<<"$(kernel_line "$LAB_KERNEL")"
  fi
  [ -n "$pkg" ] || pkg=linux-image-6.1.0-56-amd64
  # A package named exactly is looked up in the cache before any apt call.
  local vmlinuz
  case "$pkg" in
  *'*'*) ;;
  *) vmlinuz=$(find_vmlinuz "$LAB_CACHE/$pkg/root"); if [ -n "$vmlinuz" ]; then echo "$vmlinuz"; return; fi ;;
  esac
  if [ -n "$suite" ]; then apt_private "$suite"; fi
  pkg=$(resolve_pkg "$pkg")
  [ -n "$pkg" ] || missing "a Debian package matching ${LAB_KERNEL_PKG:-LAB_KERNEL=$LAB_KERNEL} in ${suite:-the host sources}"
  local dir="$LAB_CACHE/$pkg"
  vmlinuz=$(find_vmlinuz "$dir/root")
  if [ -n "$vmlinuz" ]; then echo "$vmlinuz"; return; fi
  mkdir -p "$dir"
  if ! ls "$dir/$pkg"_*.deb >/dev/null 2>&1; then
    if ! (cd "$dir" && apt-get "${APT[@]}" download "$pkg" >&2); then
      if [ -z "$suite" ]; then
        echo "lab: apt-get download $pkg failed; trying apt-get update once" >&2
        apt-get update >&2 || true
      fi
      (cd "$dir" && apt-get "${APT[@]}" download "$pkg" >&2) || missing "Debian package $pkg (apt-cache policy $pkg)"
    fi
  fi
  # Since 7.x Debian splits the image: linux-image-ABI is empty and depends on
  # linux-binary-ABI (vmlinuz), linux-modules-ABI and linux-base-ABI (config).
  local abi=${pkg#linux-image-} dep
  for dep in $(dpkg-deb -f "$(ls "$dir/$pkg"_*.deb | head -n1)" Depends | tr ',|' '\n\n' | sed 's/(.*//; s/ //g' |
    grep -E "^linux-(binary|modules|base)-$abi\$" || true); do
    ls "$dir/$dep"_*.deb >/dev/null 2>&1 || (cd "$dir" && apt-get "${APT[@]}" download "$dep" >&2) || missing "Debian package $dep"
  done
  rm -rf "$dir/root"
  local deb
  for deb in "$dir"/*.deb; do dpkg-deb -x "$deb" "$dir/root" || die "dpkg-deb -x $deb failed"; done
  vmlinuz=$(find_vmlinuz "$dir/root")
  [ -n "$vmlinuz" ] || die "no vmlinuz in $dir/*.deb"
  echo "$vmlinuz"
}

# find_vmlinuz ROOT: /boot/vmlinuz-* (up to 6.x) or /usr/lib/modules/*/vmlinuz (7.x).
find_vmlinuz() {
  ls "$1"/boot/vmlinuz-* "$1"/usr/lib/modules/*/vmlinuz 2>/dev/null | head -n1 || true
}

# module_dir VMLINUZ: the kernel/ folder of the package's modules.
module_dir() {
  local root
  root=$(dirname "$1")
  case "$1" in */boot/vmlinuz-*) root=$(dirname "$root") ;; *) root=$(dirname "$(dirname "$(dirname "$(dirname "$1")")")") ;; esac
  ls -d "$root"/lib/modules/*/kernel "$root"/usr/lib/modules/*/kernel 2>/dev/null | head -n1 || true
}

# copy_module SRC.ko[.xz|.zst] DST.ko: busybox insmod wants the plain ELF.
copy_module() {
  local m=$1 dst=$2
  if [ -f "$m.ko" ]; then cp "$m.ko" "$dst"
  elif [ -f "$m.ko.xz" ]; then xz -dc "$m.ko.xz" > "$dst"
  elif [ -f "$m.ko.zst" ]; then zstd -qdc "$m.ko.zst" > "$dst"
  elif [ -f "$m.ko.gz" ]; then gzip -dc "$m.ko.gz" > "$dst"
  fi
}

# kernel_cache_dir VMLINUZ: the kernel package's folder in the cache.
kernel_cache_dir() {
  local p=${1#"$LAB_CACHE"/}
  echo "$LAB_CACHE/${p%%/*}"
}

# kernel_abi VMLINUZ: the kernel release its package was built for (the
# folder under lib/modules).
kernel_abi() {
  basename "$(dirname "$(module_dir "$1")")"
}

# cmd_labpanic: build lab/labpanic (crash triggers) for the lab's kernel in a
# chroot of the kernel's Debian suite, whose linux-headers package pulls the
# compiler the kernel was built with; print the module's path. The chroot and
# the module live in the cache.
cmd_labpanic() {
  local vmlinuz abi suite base dir ko root
  vmlinuz=$(cmd_kernel)
  abi=$(kernel_abi "$vmlinuz")
  ko="$(kernel_cache_dir "$vmlinuz")/labpanic.ko"
  if [ -s "$ko" ] && [ "$ko" -nt "$LAB_DIR/labpanic/labpanic.c" ]; then echo "$ko"; return; fi
  command -v debootstrap >/dev/null || missing "debootstrap (apt-get install -y debootstrap) to build labpanic"
  [ "$(id -u)" = 0 ] || missing "root (chroot) to build labpanic"
  suite=${LAB_APT_SUITE:-}
  if [ -n "${LAB_KERNEL:-}" ] && [ -z "$suite" ]; then read -r suite _ <<<"$(kernel_line "$LAB_KERNEL")"; fi
  [ -n "$suite" ] || suite=$(. /etc/os-release && echo "$VERSION_CODENAME")
  base=${suite%-backports}
  root="$LAB_CACHE/chroot/$base"
  local mirror=${LAB_APT_MIRROR:-http://deb.debian.org/debian}
  if ! [ -x "$root/usr/bin/apt-get" ]; then
    rm -rf "$root"
    mkdir -p "$(dirname "$root")"
    debootstrap --variant=minbase "$base" "$root" "$mirror" >&2 || die "debootstrap $base failed"
  fi
  echo "deb $mirror $suite main" > "$root/etc/apt/sources.list.d/lab.list"
  mount -t proc proc "$root/proc" || die "mount proc in $root"
  local rc=0
  {
    chroot "$root" apt-get update -q >&2 &&
      DEBIAN_FRONTEND=noninteractive chroot "$root" apt-get install -y -q --no-install-recommends -t "$suite" \
        make binutils "linux-headers-$abi" >&2 &&
      rm -rf "$root/build" && mkdir -p "$root/build" && cp -r "$LAB_DIR/labpanic" "$root/build/" &&
      chroot "$root" make -C "/usr/src/linux-headers-$abi" M=/build/labpanic modules >&2
  } || rc=$?
  umount "$root/proc"
  [ "$rc" = 0 ] || die "building labpanic for $abi in $root failed"
  cp "$root/build/labpanic/labpanic.ko" "$ko"
  echo "$ko"
}

static_busybox() {
  local bb
  for bb in "${LAB_BUSYBOX:-}" /bin/busybox /usr/bin/busybox "$(command -v busybox 2>/dev/null || true)"; do
    [ -n "$bb" ] && [ -x "$bb" ] || continue
    if ! ldd "$bb" >/dev/null 2>&1; then echo "$bb"; return; fi
  done
  missing "a static busybox (apt-get install -y busybox-static)"
}

# busybox_arm64: busybox-static:arm64 of the kernel's suite, downloaded through
# the private apt configuration and extracted into the cache (never installed).
busybox_arm64() {
  local suite dir deb f
  [ -n "${LAB_BUSYBOX:-}" ] && { echo "$LAB_BUSYBOX"; return; }
  suite=${LAB_APT_SUITE:-}
  if [ -z "$suite" ]; then read -r suite _ <<<"$(kernel_line "$LAB_KERNEL")"; fi
  dir="$LAB_CACHE/busybox-static-arm64-$suite"
  for f in "$dir/root/bin/busybox" "$dir/root/usr/bin/busybox"; do [ -x "$f" ] && { echo "$f"; return; }; done
  apt_private "$suite"
  mkdir -p "$dir"
  ls "$dir"/busybox-static_*.deb >/dev/null 2>&1 || (cd "$dir" && apt-get "${APT[@]}" download busybox-static:arm64 >&2) ||
    missing "busybox-static:arm64 from $suite"
  deb=$(ls "$dir"/busybox-static_*.deb | head -n1)
  rm -rf "$dir/root"
  dpkg-deb -x "$deb" "$dir/root" || die "dpkg-deb -x $deb failed"
  # bookworm ships bin/busybox, trixie (merged /usr) usr/bin/busybox.
  for f in "$dir/root/bin/busybox" "$dir/root/usr/bin/busybox"; do [ -x "$f" ] && { echo "$f"; return; }; done
  die "no busybox in $deb"
}

# kexec_arm64: kexec-tools:arm64 of the kernel's suite and the libraries its
# binary needs (DT_NEEDED, followed through every library), for a guest
# without kexec_file_load (Debian's arm64 kernel: CONFIG_KEXEC_FILE unset).
# The packages (kexec-tools and the lib* packages it depends on, recursively)
# are downloaded through the private apt configuration and extracted into
# the cache; prints the folder whose sbin/kexec and lib/ go into the
# initramfs.
kexec_arm64() {
  local suite dir stage out p need lib f
  suite=${LAB_APT_SUITE:-}
  if [ -z "$suite" ]; then read -r suite _ <<<"$(kernel_line "$LAB_KERNEL")"; fi
  dir="$LAB_CACHE/kexec-tools-arm64-$suite"
  out="$dir/initramfs"
  if [ -x "$out/sbin/kexec" ]; then echo "$out"; return; fi
  command -v readelf >/dev/null || missing "readelf (apt-get install -y binutils) to collect kexec's libraries"
  apt_private "$suite"
  mkdir -p "$dir/debs"
  local pkgs
  pkgs=$(apt-cache "${APT[@]}" depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces \
    --no-enhances kexec-tools 2>/dev/null | grep -E '^(kexec-tools|lib[a-z0-9.+-]*|zlib1g)$' | sort -u)
  [ -n "$pkgs" ] || missing "kexec-tools:arm64 in $suite"
  # shellcheck disable=SC2086
  (cd "$dir/debs" && apt-get "${APT[@]}" download $pkgs >&2) || missing "kexec-tools:arm64 and its libraries from $suite"
  stage="$dir/stage"
  rm -rf "$stage" "$out"
  for p in "$dir"/debs/*.deb; do dpkg-deb -x "$p" "$stage" || die "dpkg-deb -x $p failed"; done
  mkdir -p "$out/sbin" "$out/lib"
  for f in "$stage"/sbin/kexec "$stage"/usr/sbin/kexec; do [ -x "$f" ] && cp "$f" "$out/sbin/kexec"; done
  [ -x "$out/sbin/kexec" ] || die "no kexec in kexec-tools:arm64"
  # The closure of DT_NEEDED, each library found in the extracted packages.
  local todo=("$out/sbin/kexec") seen=" "
  while [ ${#todo[@]} -gt 0 ]; do
    f=${todo[0]}; todo=("${todo[@]:1}")
    for need in $(readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
      case "$seen" in *" $need "*) continue ;; esac
      seen="$seen$need "
      lib=$(find "$stage" -name "$need" \( -type f -o -type l \) -print -quit)
      [ -n "$lib" ] || die "kexec needs $need, in none of: $pkgs"
      cp -L "$lib" "$out/lib/$need"
      todo+=("$out/lib/$need")
    done
  done
  echo "$out"
}

cmd_initramfs() {
  local vmlinuz bb root out
  vmlinuz=$(cmd_kernel)
  if [ "$LAB_ARCH" = arm64 ]; then bb=$(busybox_arm64); else bb=$(static_busybox); fi
  command -v go >/dev/null || missing "go"
  # One initramfs per kernel: it holds that kernel's modules.
  out="${LAB_INITRD:-$LAB_CACHE/initramfs-$(basename "$(kernel_cache_dir "$vmlinuz")").cpio.gz}"
  root="$out.d"
  # LAB_REUSE_INITRD=1: a caller that just built it boots it again as is.
  if [ "${LAB_REUSE_INITRD:-}" = 1 ] && [ -s "$out" ]; then echo "$out"; return; fi
  rm -rf "$root"
  mkdir -p "$root"/{bin,dev,proc,sys,tmp,lib/modules}
  cp "$bb" "$root/bin/busybox"
  (cd "$REPO" && CGO_ENABLED=0 GOARCH=$LAB_ARCH go build -trimpath -o "$root/bin/panicscope" ./cmd/panicscope &&
    CGO_ENABLED=0 GOARCH=$LAB_ARCH go build -trimpath -o "$root/bin/kexecload" ./lab/kexecload) || die "go build failed"
  cp "$LAB_DIR/init" "$root/init"
  chmod 755 "$root/init" "$root/bin/busybox"
  # The host runs busybox only for cpio below: the amd64 one when the guest's is arm64.
  local hostbb=$bb
  if [ "$LAB_ARCH" = arm64 ]; then hostbb=$(command -v cpio || command -v busybox || true); fi
  if [ "$LAB_ARCH" = arm64 ]; then
    # Debian's arm64 kernel has no pvpanic, and arm64 has no memmap= to set RAM
    # aside for ramoops: qemu_fw_cfg (VMCOREINFO for QEMU's dumps) only. No
    # kexec_file_load (CONFIG_KEXEC_FILE unset), so no /boot for lab.kdump=1.
    local kdir
    kdir=$(module_dir "$vmlinuz")
    [ -n "$kdir" ] || die "no modules next to $vmlinuz"
    copy_module "$kdir/drivers/firmware/qemu_fw_cfg" "$root/lib/modules/01-qemu_fw_cfg.ko"
    mkdir -p "$root/lib/modules/capture"
    copy_module "$kdir/drivers/block/virtio_blk" "$root/lib/modules/capture/01-virtio_blk.ko"
    # lab.sh kdump (LAB_KEXEC=1): kexec-tools (kexec_load) with its
    # libraries, the kernel Image and this tree less /boot as the capture
    # initramfs. The loader is /lib/ld-linux-aarch64.so.1; glibc also looks
    # for libraries in /lib.
    if [ "${LAB_KEXEC:-}" = 1 ]; then
      local kx
      kx=$(kexec_arm64)
      mkdir -p "$root/sbin"
      cp "$kx/sbin/kexec" "$root/sbin/kexec"
      cp "$kx"/lib/* "$root/lib/"
      cpio_tree "$root" "$hostbb" > "$root.crash.tmp" || die "cpio failed"
      mkdir -p "$root/boot"
      mv "$root.crash.tmp" "$root/boot/crash-initrd.cpio.gz"
      cp "$vmlinuz" "$root/boot/vmlinuz"
    fi
    cpio_tree "$root" "$hostbb" > "$out.tmp" || die "cpio failed"
    mv "$out.tmp" "$out"
    rm -rf "$root"
    echo "$out"
    return
  fi
  # Modules, loaded by /init in this order: qemu_fw_cfg lets the guest hand
  # QEMU its VMCOREINFO (-device vmcoreinfo), so dumps carry it like the
  # fixtures do; pvpanic puts a module's callback on panic_notifier_list;
  # ramoops (over the memmap= hole lab.sh reserves) registers pstore and its
  # kmsg dumper.
  local kdir i=0 m f
  kdir=$(module_dir "$vmlinuz")
  [ -n "$kdir" ] || die "no modules next to $vmlinuz"
  for m in drivers/firmware/qemu_fw_cfg drivers/misc/pvpanic/pvpanic drivers/misc/pvpanic/pvpanic-mmio \
    lib/reed_solomon/reed_solomon fs/pstore/ramoops; do
    i=$((i + 1))
    copy_module "$kdir/$m" "$root/lib/modules/$(printf %02d $i)-$(basename "$m").ko"
  done
  # labpanic (crash triggers, lab.trigger=), when built for this kernel (lab.sh labpanic).
  local lp
  lp="$(kernel_cache_dir "$vmlinuz")/labpanic.ko"
  if [ -s "$lp" ]; then cp "$lp" "$root/lib/labpanic.ko"; fi
  # The crash kernel's modules (lab.mode=capture writes /proc/vmcore to a virtio disk).
  mkdir -p "$root/lib/modules/capture"
  i=0
  for m in drivers/virtio/virtio_ring drivers/virtio/virtio drivers/virtio/virtio_pci_modern_dev \
    drivers/virtio/virtio_pci_legacy_dev drivers/virtio/virtio_pci drivers/block/virtio_blk; do
    i=$((i + 1))
    copy_module "$kdir/$m" "$root/lib/modules/capture/$(printf %02d $i)-$(basename "$m").ko"
  done
  # For lab.kdump=1: the guest's own kernel and this same tree (less /boot)
  # as the crash kernel's initramfs.
  mkdir -p "$root/boot"
  (cd "$root" && find . -path ./boot -prune -o -print0 | sort -z | "$bb" cpio -o -H newc -0 2>/dev/null | gzip -1 > "$root.crash.tmp") || die "cpio failed"
  mv "$root.crash.tmp" "$root/boot/crash-initrd.cpio.gz"
  cp "$vmlinuz" "$root/boot/vmlinuz"
  (cd "$root" && find . -print0 | sort -z | "$bb" cpio -o -H newc -0 2>/dev/null | gzip -1 > "$out.tmp") || die "cpio failed"
  mv "$out.tmp" "$out"
  rm -rf "$root"
  echo "$out"
}

# cpio_tree ROOT CPIO: ROOT as a gzipped newc archive on stdout; CPIO is a
# busybox (its cpio applet) or GNU cpio.
cpio_tree() {
  local c=(cpio)
  case "$2" in *busybox*) c=("$2" cpio) ;; esac
  (cd "$1" && find . -print0 | sort -z | "${c[@]}" -o -H newc -0 2>/dev/null | gzip -1)
}

qemu_cmd() {
  if [ "$LAB_ARCH" = arm64 ]; then
    command -v qemu-system-aarch64 >/dev/null || missing "qemu-system-aarch64 (apt-get install -y qemu-system-arm)"
    # As the arm64 fixtures: no FEAT_LPA2 (the 52-bit VA kernel runs 48-bit),
    # pointer authentication on (pauth-impdef: the cheap algorithm under TCG).
    QEMU=(timeout --foreground -k 10 "$LAB_TIMEOUT" qemu-system-aarch64 -M virt -cpu max,lpa2=off,pauth-impdef=on
      -accel tcg -m "$LAB_MEM" -smp "$LAB_SMP" -nographic -monitor none -no-reboot -device vmcoreinfo -action panic=none)
    return
  fi
  command -v qemu-system-x86_64 >/dev/null || missing "qemu-system-x86_64 (apt-get install -y qemu-system-x86)"
  local accel="$LAB_ACCEL"
  if [ "$accel" = kvm ] && ! [ -w /dev/kvm ]; then accel=tcg; fi
  # pvpanic: the guest's pvpanic notifier tells QEMU of the panic; -action
  # panic=none keeps the guest as it is for dump-guest-memory.
  QEMU=(timeout --foreground -k 10 "$LAB_TIMEOUT" qemu-system-x86_64 -accel "$accel" -m "$LAB_MEM" -smp "$LAB_SMP"
    -nographic -monitor none -no-reboot -device vmcoreinfo -device pvpanic -action panic=none)
}

# boot MODE WORKDIR [ARG...]: console on ttyS0 → WORKDIR/console.log, the
# init script's data on ttyS1 → WORKDIR/data.log.
boot() {
  local mode=$1 work=$2; shift 2
  local vmlinuz initrd
  vmlinuz=$(cmd_kernel)
  initrd=$(cmd_initramfs)
  qemu_cmd
  mkdir -p "$work"
  : > "$work/console.log"; : > "$work/data.log"
  if [ "$LAB_ARCH" = arm64 ]; then
    # One UART (ttyAMA0) on QEMU 7.2's virt: the init script writes its data
    # to the console too (lab.data=console), and data.log is the console.
    ln -sf console.log "$work/data.log"
    QEMU+=(-kernel "$vmlinuz" -initrd "$initrd" -append "console=ttyAMA0 loglevel=4 lab.data=console lab.mode=$mode $*"
      -serial "file:$work/console.log")
    return
  fi
  QEMU+=(-kernel "$vmlinuz" -initrd "$initrd"
    -append "console=ttyS0 loglevel=4 memmap=1M\$$LAB_RAMOOPS lab.ramoops=$LAB_RAMOOPS lab.mode=$mode $*"
    -serial "file:$work/console.log" -serial "file:$work/data.log")
}

cmd_live() {
  local work
  work=$(mktemp -d "${TMPDIR:-/tmp}/panicscope-lab.XXXXXX")
  boot live "$work" "$@"
  local start=$SECONDS rc=0
  "${QEMU[@]}" </dev/null >"$work/qemu.out" 2>&1 || rc=$?
  echo "=====LAB-BOOT seconds=$((SECONDS - start)) qemu_rc=$rc cmdline_extra=[$*]====="
  cat "$work/data.log"
  if ! grep -q '=====PANICSCOPE-DONE=====' "$work/data.log"; then
    echo "=====LAB-CONSOLE-BEGIN====="; tail -n 80 "$work/console.log"; cat "$work/qemu.out"; echo "=====LAB-CONSOLE-END====="
    rm -rf "$work"
    die "the guest did not finish (qemu exit $rc after $((SECONDS - start)) s)"
  fi
  rm -rf "$work"
}

cmd_dump() {
  [ $# -ge 1 ] || die "usage: lab.sh dump OUT [ARG...]"
  local out=$1; shift
  out=$(realpath -m "$out")
  mkdir -p "$(dirname "$out")"
  local work
  work=$(mktemp -d "${TMPDIR:-/tmp}/panicscope-lab.XXXXXX")
  boot panic "$work" "$@"
  local sock="$work/qmp.sock"
  QEMU+=(-qmp "unix:$sock,server=on,wait=off")
  "${QEMU[@]}" </dev/null >"$work/qemu.out" 2>&1 &
  local qpid=$! start=$SECONDS
  # Wait for the end of panic() on the console ("---[ end Kernel panic"), or
  # for LAB_DUMP_AFTER (an extended regexp) when panic() never gets there (a
  # hanging notifier).
  local after=${LAB_DUMP_AFTER:-'---\[ end Kernel panic'}
  until grep -Eq -- "$after" "$work/console.log" 2>/dev/null; do
    if ! kill -0 "$qpid" 2>/dev/null; then cat "$work/console.log" "$work/qemu.out" >&2; die "qemu exited before the guest panicked"; fi
    if [ $((SECONDS - start)) -gt "$LAB_TIMEOUT" ]; then kill "$qpid"; die "no panic within $LAB_TIMEOUT s"; fi
    sleep 1
  done
  sleep 2
  rm -f "$out" "$out.elf"
  # Both formats from the same stopped VM on arm64: QEMU's aarch64 kdump file
  # and its physical-only ELF differ in how they carry it (see
  # ../shared/vmcores-arm64/README.md); LAB_DUMP_ELF=1 asks for the ELF on x86_64.
  local cmds=()
  if [ "$LAB_ARCH" = arm64 ] || [ "${LAB_DUMP_ELF:-}" = 1 ]; then
    # dump-guest-memory resumes a running VM when it is done: stop it first,
    # so that both files hold the same moment.
    cmds+=('{"execute":"stop"}')
  fi
  cmds+=('{"execute":"dump-guest-memory","arguments":{"paging":false,"protocol":"file:'"$out"'","format":"kdump-zlib"}}')
  if [ "$LAB_ARCH" = arm64 ] || [ "${LAB_DUMP_ELF:-}" = 1 ]; then
    cmds+=('{"execute":"dump-guest-memory","arguments":{"paging":false,"protocol":"file:'"$out.elf"'","format":"elf"}}')
  fi
  (cd "$REPO" && go run ./lab/qmp -socket "$sock" "${cmds[@]}" '{"execute":"quit"}') ||
    { kill "$qpid" 2>/dev/null; die "QMP dump-guest-memory failed"; }
  wait "$qpid" || true
  cp "$work/console.log" "$out.console.log"
  # The guest's own facts at the crash (init writes them before crashing).
  tr -d '\r' < "$work/data.log" | sed -n '/^=====PANICSCOPE-FACTS-BEGIN=====$/,/^=====PANICSCOPE-FACTS-END=====$/p' > "$out.facts"
  rm -rf "$work"
  echo "lab: wrote $out ($(stat -c %s "$out") bytes) after $((SECONDS - start)) s; console in $out.console.log"
  if [ -s "$out.elf" ]; then echo "lab: wrote $out.elf ($(stat -c %s "$out.elf") bytes, ELF)"; fi
}

# kdump OUT [ARG...]: arm kdump in the guest (lab.kdump=1), panic it; the
# crash kernel (lab.mode=capture) copies /proc/vmcore to a virtio disk, which
# becomes OUT: an ELF core in the kdump /proc/vmcore style.
cmd_kdump() {
  [ $# -ge 1 ] || die "usage: lab.sh kdump OUT [ARG...]"
  local out=$1; shift
  out=$(realpath -m "$out")
  mkdir -p "$(dirname "$out")"
  local work
  work=$(mktemp -d "${TMPDIR:-/tmp}/panicscope-lab.XXXXXX")
  truncate -s 4G "$work/disk.img"
  # arm64: the initramfs carries kexec-tools and the kernel (LAB_KEXEC=1),
  # in its own file.
  if [ "$LAB_ARCH" = arm64 ]; then
    export LAB_KEXEC=1
    [ -n "${LAB_INITRD:-}" ] || export LAB_INITRD="$LAB_CACHE/initramfs-arm64-kdump-$(basename "$(kernel_cache_dir "$(cmd_kernel)")").cpio.gz"
    [ -n "$LAB_MEM_SET" ] || LAB_MEM=512
  fi
  boot panic "$work" lab.kdump=1 "crashkernel=${LAB_CRASHKERNEL:-192M}" "$@"
  QEMU+=(-drive "file=$work/disk.img,format=raw,if=virtio")
  local start=$SECONDS rc=0
  "${QEMU[@]}" </dev/null >"$work/qemu.out" 2>&1 || rc=$?
  local line size
  line=$(tr -d '\r' < "$work/data.log" | grep '^=====PANICSCOPE-VMCORE ' | tail -n1 || true)
  size=$(echo "$line" | sed -n 's/.* size=\([0-9]*\) .*/\1/p')
  if [ -z "$size" ] || ! echo "$line" | grep -q ' rc=0'; then
    tail -n 60 "$work/console.log" >&2; cat "$work/data.log" >&2
    rm -rf "$work"
    die "the crash kernel did not write /proc/vmcore (qemu exit $rc after $((SECONDS - start)) s)"
  fi
  truncate -s "$size" "$work/disk.img"
  mv "$work/disk.img" "$out"
  cp "$work/console.log" "$out.console.log"
  # The guest's own facts at the crash (init writes them before crashing).
  tr -d '\r' < "$work/data.log" | sed -n '/^=====PANICSCOPE-FACTS-BEGIN=====$/,/^=====PANICSCOPE-FACTS-END=====$/p' > "$out.facts"
  rm -rf "$work"
  echo "lab: wrote $out ($size bytes, /proc/vmcore of the crash kernel) after $((SECONDS - start)) s; console in $out.console.log"
  echo "lab: a small kdump-compressed copy: panicscope trim $out $out.kdump"
}

# compress OUT: kdump-compressed copies of the ELF core `kdump` wrote, made by
# the host's makedumpfile: OUT.lzo (-l), OUT.zstd (-z), OUT.zlib (-c). The dump
# level is 1 (zero pages only): makedumpfile up to 1.7.6 does not know the
# page flags of 7.x, and at -d 31 it drops live kernel pages (on 7.3.4 the
# panicking task's task_struct), so LAB_DUMP_LEVEL=31 is for older kernels.
cmd_compress() {
  [ $# -ge 1 ] || die "usage: lab.sh compress OUT"
  local out=$1 level=${LAB_DUMP_LEVEL:-1} f ext
  command -v makedumpfile >/dev/null || missing "makedumpfile (apt-get install -y makedumpfile)"
  [ -s "$out" ] || die "no $out (lab.sh kdump OUT first)"
  for f in l:lzo z:zstd c:zlib; do
    ext=${f#*:}
    rm -f "$out.$ext"
    if makedumpfile "-${f%%:*}" -d "$level" "$out" "$out.$ext" >&2; then
      echo "lab: wrote $out.$ext (makedumpfile -${f%%:*} -d $level, $(stat -c %s "$out.$ext") bytes)"
    else
      echo "lab: makedumpfile -${f%%:*} failed (this makedumpfile may lack it)" >&2
      rm -f "$out.$ext"
    fi
  done
}

case "${1:-}" in
  kernel) shift; cmd_kernel "$@" ;;
  labpanic) shift; cmd_labpanic "$@" ;;
  initramfs) shift; cmd_initramfs "$@" ;;
  live) shift; cmd_live "$@" ;;
  dump) shift; cmd_dump "$@" ;;
  kdump) shift; cmd_kdump "$@" ;;
  compress) shift; cmd_compress "$@" ;;
  *) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
