# shellcheck shell=bash
# Shared by .ci/arm and .ci/arm-frame-cost (sourced, not run): the Pi Zero W toolchain.
#
# What works here with Debian packages only (see docs/pi-zero.md): Debian's rustc-web/cargo-web
# with rust-web-src, std built from source (-Zbuild-std) for arm-unknown-linux-gnueabi (ARMv6,
# soft-float EABI), linked statically against Debian's armel C library; tests run in
# qemu-system-arm -M raspi0 with Debian's own Pi Zero kernel.
#
# Env (all optional):
#   ARM_CACHE       persistent cache dir (apt state, kernel, busybox, target dir)  [/tmp/arm-ci]
#   ARM_TARGET_DIR  CARGO_TARGET_DIR of the ARM build                               [$ARM_CACHE/target]
#   ARM_JOBS        cargo -j for the ARM build                                     [cargo's default]
#   ARM_NICE        nice level of the ARM build and the VMs                         [10]

ARM_CI_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ARM_ROOT=$(cd "$ARM_CI_DIR/.." && pwd)
C=${ARM_CACHE:-/tmp/arm-ci}
T=arm-unknown-linux-gnueabi          # ARMv6 (ARM1176), soft-float EABI; static, it runs on every Pi
ARM_TARGET_DIR=${ARM_TARGET_DIR:-$C/target}
ARM_NICE=${ARM_NICE:-10}
mkdir -p "$C"
arm_t0=${arm_t0:-$SECONDS}
arm_step_t=$SECONDS
# step "text": prints the time since the start and how long the previous step took.
step() {
  local now=$SECONDS
  echo "== [arm +$((now - arm_t0))s | last step $((now - arm_step_t))s] $*"
  arm_step_t=$now
}

arm_need_root() {
  if [ "$(id -u)" != 0 ]; then
    echo "arm: installing packages needs root (apt-get); run as root or preinstall them" >&2
    exit 1
  fi
}

# Host packages, through a private apt state (the system's apt configuration is untouched, no
# foreign dpkg architecture is added).  bookworm-backports for qemu 10: it keeps the machine's
# preinstalled qemu-utils 10 (bookworm's qemu-system-arm 7.2 would replace it).
arm_setup_packages() {
  export DEBIAN_FRONTEND=noninteractive
  if command -v arm-linux-gnueabi-gcc >/dev/null && [ -x /usr/bin/cargo ] && [ -x /usr/bin/rustc ] \
     && [ -d /usr/lib/rustlib/src/rust/library ] && command -v qemu-system-arm >/dev/null \
     && command -v qemu-arm >/dev/null && command -v fdtput >/dev/null && command -v cpio >/dev/null \
     && command -v git >/dev/null && ls /usr/lib/llvm-*/lib/libclang.so >/dev/null 2>&1; then
    echo "   host packages already installed"
    return
  fi
  arm_need_root
  local MIRROR SECMIRROR KEY B
  MIRROR=$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  SECMIRROR=$(awk '/^URIs:/ && $2 ~ /security/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  if [ -z "$MIRROR" ] || [ -z "$SECMIRROR" ]; then
    echo "arm: cannot read the Debian mirror from /etc/apt/sources.list.d/debian.sources" >&2; exit 1
  fi
  KEY=/usr/share/keyrings/debian-archive-keyring.gpg
  B=$C/apt-bpo; mkdir -p "$B/lists/partial" "$B/archives/partial"
  { echo "deb [signed-by=$KEY arch=amd64] $MIRROR bookworm main"
    echo "deb [signed-by=$KEY arch=amd64] $MIRROR bookworm-updates main"
    echo "deb [signed-by=$KEY arch=amd64] $SECMIRROR bookworm-security main"
    echo "deb [signed-by=$KEY arch=amd64] $MIRROR bookworm-backports main"; } > "$B/sources.list"
  local APTB=(-o "Dir::Etc::sourcelist=$B/sources.list" -o Dir::Etc::sourceparts=- -o "Dir::State::lists=$B/lists"
              -o "Dir::Cache::archives=$B/archives" -o APT::Architectures::=amd64 -o DPkg::Lock::Timeout=600)
  apt-get "${APTB[@]}" update -qq
  # rustc-web, cargo-web and rust-web-src (bookworm-security) must have the same version.
  apt-get "${APTB[@]}" install -y -qq --no-install-recommends rustc-web cargo-web rust-web-src \
    gcc-arm-linux-gnueabi libc6-dev-armel-cross device-tree-compiler cpio \
    libclang-dev git >/dev/null   # bindgen (rs_ws281x, ledd's ws281x feature); its build.rs runs git
  apt-get "${APTB[@]}" install -y -qq --no-install-recommends -t bookworm-backports \
    qemu-system-arm qemu-user qemu-utils >/dev/null
}

# The qemu TCG plugin that counts executed guest instructions (from the qemu packages).
arm_insn_plugin() {
  local p
  for p in /usr/lib/x86_64-linux-gnu/qemu/libinsn.so /usr/lib/qemu/plugins/libinsn.so \
           /usr/lib/x86_64-linux-gnu/qemu/plugins/libinsn.so; do
    [ -f "$p" ] && { echo "$p"; return; }
  done
  return 0
}

# The Pi Zero kernel (Debian's linux-image-rpi, armel) + device tree, and a static ARM busybox.
arm_setup_vm_files() {
  if [ -f "$C/vmlinuz-rpi" ] && [ -f "$C/rpi-zero.dtb" ] && [ -f "$C/busybox" ]; then
    echo "   kernel, dtb and busybox cached in $C"
    return
  fi
  arm_need_root
  local MIRROR KEY A KPKG d
  MIRROR=$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
  KEY=/usr/share/keyrings/debian-archive-keyring.gpg
  A=$C/apt; mkdir -p "$A/lists/partial" "$A/archives/partial"
  rm -rf "$C/deb"; mkdir -p "$C/deb"
  echo "deb [signed-by=$KEY arch=armel,armhf] $MIRROR bookworm main" > "$A/sources.list"
  local APTARM=(-o "Dir::Etc::sourcelist=$A/sources.list" -o Dir::Etc::sourceparts=- -o "Dir::State::lists=$A/lists"
                -o "Dir::Cache::archives=$A/archives" -o APT::Architectures::=armel -o APT::Architectures::=armhf)
  apt-get "${APTARM[@]}" update -qq
  KPKG=$(apt-cache "${APTARM[@]}" depends linux-image-rpi:armel | awk '/Depends: linux-image-/ {print $2; exit}')
  (cd "$C/deb" && apt-get "${APTARM[@]}" download "$KPKG" busybox-static:armel 2>&1 \
     | grep -v '^W: Download is performed unsandboxed' || true)
  rm -rf "$C/x"; for d in "$C"/deb/*.deb; do dpkg-deb -x "$d" "$C/x"; done
  cp "$C"/x/boot/vmlinuz-*-rpi "$C/vmlinuz-rpi.tmp"
  cp "$C"/x/usr/lib/linux-image-*-rpi/bcm2835-rpi-zero.dtb "$C/rpi-zero.dtb.tmp"
  cp "$C/x/bin/busybox" "$C/busybox.tmp"
  # QEMU's raspi0 lacks the BCM2835 ASB block; without this the kernel oopses in bcm2835_power_probe.
  fdtput -t x "$C/rpi-zero.dtb.tmp" /soc/watchdog@7e100000 reg 7e100000 114
  fdtput -t s "$C/rpi-zero.dtb.tmp" /soc/watchdog@7e100000 reg-names pm
  mv "$C/vmlinuz-rpi.tmp" "$C/vmlinuz-rpi"; mv "$C/rpi-zero.dtb.tmp" "$C/rpi-zero.dtb"; mv "$C/busybox.tmp" "$C/busybox"
  rm -rf "$C/x" "$C/deb"
}

# Tools the tests run that busybox lacks, from Debian armel (ARMv5TE code: runs on the ARM1176),
# dynamically linked: the tool and the closure of its NEEDED libraries (and ld-linux.so.3) go into
# an overlay tree ($C/vm-tools) that the VM runner copies into every initramfs.
#   setpriv (util-linux): --reuid/--regid/--clear-groups/--groups (busybox's setpriv has none)
#   systemd-socket-activate (systemd): socket-activation tests
#   id (coreutils): a real file to copy and make setuid (sandbox tests; busybox's is a symlink)
ARM_VM_TOOL_PKGS="util-linux systemd coreutils libsystemd-shared libc6 libcap-ng0 libacl1 libblkid1 libcap2 libcrypt1
  libgcrypt20 libgpg-error0 libip4tc2 libkmod2 liblz4-1 libmount1 libssl3 libpam0g libaudit1 libseccomp2
  libselinux1 libpcre2-8-0 libzstd1 liblzma5 libatomic1"
ARM_VM_TOOLS="usr/bin/setpriv usr/bin/systemd-socket-activate usr/bin/id"
arm_setup_vm_tools() {
  local stamp="$ARM_VM_TOOL_PKGS|$ARM_VM_TOOLS|1"
  if [ -f "$C/vm-tools.stamp" ] && [ "$(cat "$C/vm-tools.stamp")" = "$stamp" ]; then
    echo "   VM tools cached in $C/vm-tools: $ARM_VM_TOOLS"
    return
  fi
  arm_need_root
  local A=$C/apt X=$C/vm-tools-x O=$C/vm-tools p d
  local APTARM=(-o "Dir::Etc::sourcelist=$A/sources.list" -o Dir::Etc::sourceparts=- -o "Dir::State::lists=$A/lists"
                -o "Dir::Cache::archives=$A/archives" -o APT::Architectures::=armel -o APT::Architectures::=armhf)
  [ -d "$A/lists" ] || { rm -f "$C/vmlinuz-rpi"; arm_setup_vm_files; }
  rm -rf "$X" "$O" "$C/deb-tools"; mkdir -p "$X" "$O" "$C/deb-tools"
  local pkgs=(); for p in $ARM_VM_TOOL_PKGS; do pkgs+=("$p:armel"); done
  (cd "$C/deb-tools" && apt-get "${APTARM[@]}" download "${pkgs[@]}" 2>&1 \
     | grep -v -e '^W: Download is performed unsandboxed' -e '^Get:' -e '^Fetched' || true)
  for d in "$C"/deb-tools/*.deb; do dpkg-deb -x "$d" "$X"; done
  # copy_elf PATH-IN-X: the file (symlinks resolved) and, recursively, the libraries it needs.
  copy_elf() {
    local rel=$1 src lib found dir
    [ -e "$O/$rel" ] && return 0
    src=$(readlink -f "$X/$rel"); [ -f "$src" ] || { echo "arm: $rel missing in the armel packages" >&2; return 1; }
    mkdir -p "$O/$(dirname "$rel")"; cp "$src" "$O/$rel"
    for lib in $(arm-linux-gnueabi-readelf -d "$src" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
      found=
      for dir in lib/arm-linux-gnueabi usr/lib/arm-linux-gnueabi usr/lib/arm-linux-gnueabi/systemd lib usr/lib; do
        if [ -e "$X/$dir/$lib" ]; then found=$dir/$lib; break; fi
      done
      [ -n "$found" ] || { echo "arm: $lib (needed by $rel) not found in the armel packages" >&2; return 1; }
      copy_elf "$found"
    done
  }
  for p in $ARM_VM_TOOLS; do copy_elf "$p"; done
  # the program interpreter of Debian armel binaries
  mkdir -p "$O/lib"; cp "$(readlink -f "$X/lib/ld-linux.so.3")" "$O/lib/ld-linux.so.3"
  rm -rf "$X" "$C/deb-tools"
  echo "   VM tools: $ARM_VM_TOOLS ($(du -sh "$O" | cut -f1) with their libraries) in $O"
  echo "$stamp" > "$C/vm-tools.stamp"
}

# Environment for cargo: Debian's compiler (not rustup's), build-std, static, the VM runner.
arm_cargo_env() {
  export PATH=/usr/bin:$PATH RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc   # Debian's rustc-web
  unset RUSTUP_TOOLCHAIN RUSTFLAGS CARGO_ENCODED_RUSTFLAGS CARGO_BUILD_TARGET
  export RUSTC_BOOTSTRAP=1                                                   # -Zbuild-std on a stable compiler
  export CARGO_TARGET_DIR=$ARM_TARGET_DIR
  export CARGO_TARGET_ARM_UNKNOWN_LINUX_GNUEABI_LINKER=arm-linux-gnueabi-gcc
  export CARGO_TARGET_ARM_UNKNOWN_LINUX_GNUEABI_RUSTFLAGS="-C target-feature=+crt-static"
  export RUSTDOCFLAGS="-C target-feature=+crt-static"                        # doctests must be static too
  # C code of -sys crates (ring, rs_ws281x): Debian's armel cross compiler.  Its default is
  # -march=armv5te -marm (Debian armel's baseline), which the ARM1176 runs; say ARMv6 explicitly
  # so ring & co. may use ARMv6 instructions, and never Thumb-2/NEON (ARMv7 only).
  export CC_arm_unknown_linux_gnueabi=arm-linux-gnueabi-gcc
  export CXX_arm_unknown_linux_gnueabi=arm-linux-gnueabi-g++
  export AR_arm_unknown_linux_gnueabi=arm-linux-gnueabi-ar
  export CFLAGS_arm_unknown_linux_gnueabi="-march=armv6 -marm -mfloat-abi=soft"
  export CXXFLAGS_arm_unknown_linux_gnueabi="$CFLAGS_arm_unknown_linux_gnueabi"
  # bindgen (rs_ws281x) parses the C headers for the target.
  export BINDGEN_EXTRA_CLANG_ARGS_arm_unknown_linux_gnueabi="--sysroot=/usr/arm-linux-gnueabi -I/usr/arm-linux-gnueabi/include"
  export RPI_WS281X_SYSROOT=/usr/arm-linux-gnueabi
  export CARGO_TARGET_ARM_UNKNOWN_LINUX_GNUEABI_RUNNER="$ARM_CI_DIR/arm-vm-runner.sh"
  export ARM_VM_KERNEL=$C/vmlinuz-rpi ARM_VM_BUSYBOX=$C/busybox ARM_VM_OVERLAY=$C/vm-tools ARM_VM_SRC_DIR=$ARM_ROOT
  export ARM_VM_MACHINE_ARGS="-M raspi0" ARM_VM_DTB=$C/rpi-zero.dtb
  ARM_CARGO=(nice -n "$ARM_NICE" /usr/bin/cargo)
  ARM_ZFLAGS=(-Zbuild-std=std,panic_abort --target "$T")
  if [ -n "${ARM_JOBS:-}" ]; then ARM_ZFLAGS+=(-j "$ARM_JOBS"); fi
}

# `--features ledd/pi` if ledd declares a `pi` feature (the default Pi build: ws281x + SPI backends).
arm_pi_features() {
  if grep -Eq '^[[:space:]]*pi[[:space:]]*=' "$ARM_ROOT/ledd/Cargo.toml" 2>/dev/null; then
    echo "--features=ledd/pi"
  fi
}
