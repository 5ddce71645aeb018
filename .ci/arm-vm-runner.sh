#!/bin/bash
# Cargo runner for arm-unknown-linux-gnueabi: boots Debian's Pi Zero kernel in
# `qemu-system-arm -M raspi0` (one ARM1176 core, 512 MB, like a Pi Zero W) with the statically
# linked test binary in an initramfs, runs it under a busybox init and returns its exit status.
# Adapted from ../shared/arm/qemu-vm-runner.sh for tinsel's tests:
#   - the workspace binaries (ledd, ledctl, webd: every executable beside the test's `deps/` dir)
#     go into the VM at their host paths (the e2e harness looks beside deps/; CARGO_BIN_EXE_*);
#   - the workspace sources (ARM_VM_SRC_DIR, no target/) at their host path; the test runs in the
#     host's working directory (cargo's: the package root), as with a native `cargo test`;
#   - util-linux setpriv and systemd-socket-activate with their libraries (ARM_VM_OVERLAY);
#   - /proc, /sys, securityfs, devtmpfs, /dev/shm mounted; /tmp writable; loopback up; /etc/passwd + /etc/group with
#     root and nobody/nogroup (65534); root-only /etc/shadow, /etc/gshadow; /etc/hosts; busybox applets (kill, ...) in /bin; clock from
#     the host (raspi0 has no RTC; TLS certificate validity depends on it);
#   - a fresh 64-byte /chosen/rng-seed in the device tree per boot (random.trust_bootloader=on):
#     QEMU's raspi0 gives the kernel no entropy source it can use without modules (no cycle
#     counter for jitter entropy on ARMv6), so getrandom() would block forever (proptest, TLS keys);
#   - prints the machine (uname -m, kernel, LSMs) once per test binary, then libtest's output,
#     streamed as it comes;
#   - a test binary that lists 0 tests is run in qemu-arm user mode (-cpu arm1176) instead of
#     booting a VM for nothing (ARM_VM_SKIP_EMPTY=0 boots anyway).
# Usage: arm-vm-runner.sh <static-arm-binary> [args...]
# Env: ARM_VM_KERNEL (vmlinuz), ARM_VM_BUSYBOX (static ARM busybox), ARM_VM_MACHINE_ARGS
#      ("-M raspi0"), ARM_VM_DTB (the Pi Zero device tree; a seeded copy is passed with -dtb), ARM_VM_TIMEOUT (s, default 300), ARM_VM_SKIP_EMPTY (1),
#      ARM_VM_EXTRA_ENV (space-separated names of more env vars to pass into the VM),
#      ARM_VM_OVERLAY (a tree copied into the VM's /), ARM_VM_SRC_DIR (the workspace root).
set -euo pipefail
BIN=$(readlink -f "$1"); shift
KERNEL=${ARM_VM_KERNEL:?set ARM_VM_KERNEL to the Pi Zero vmlinuz}
BUSYBOX=${ARM_VM_BUSYBOX:?set ARM_VM_BUSYBOX to a static ARM busybox}
name=$(basename "$BIN")
nice_cmd=()
[ -n "${ARM_NICE:-}" ] && nice_cmd=(nice -n "$ARM_NICE")

# libtest binaries with no tests (bins without unit tests, empty libs): don't boot a VM for them.
if [ "${ARM_VM_SKIP_EMPTY:-1}" = 1 ] && command -v qemu-arm >/dev/null; then
  last=$(timeout 120 qemu-arm -cpu arm1176 "$BIN" --list "$@" 2>/dev/null | tail -n1 || true)
  if [[ "$last" =~ ^0\ tests,\ 0\ benchmarks$ ]]; then
    echo "arm-vm-runner: $name lists 0 tests: run in qemu-arm -cpu arm1176 (user mode), no VM boot"
    exec "${nice_cmd[@]}" qemu-arm -cpu arm1176 "$BIN" "$@"
  fi
fi

work=$(mktemp -d /tmp/armvm.XXXXXX)
trap 'rm -rf "$work"' EXIT
R=$work/root
mkdir -p "$R"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,etc,root,run,var/tmp}
cp "$BUSYBOX" "$R/bin/busybox"
ln -s busybox "$R/bin/sh"

# The binaries at the same absolute paths as on the host: the e2e harness finds ledd, ledctl and
# webd beside the test's deps/ dir (current_exe), and integration tests use the compile-time
# CARGO_BIN_EXE_* paths.
bindir=$(dirname "$BIN")
mkdir -p "$R$bindir"
cp "$BIN" "$R$BIN"
if [ "$(basename "$bindir")" = deps ]; then
  bindir=$(dirname "$bindir")
  while IFS= read -r -d '' f; do
    if [ "$(head -c4 "$f" | od -An -c | tr -d ' ')" = '177ELF' ]; then   # ELF only (no .d files)
      cp "$f" "$R$bindir/"
    fi
  done < <(find "$bindir" -maxdepth 1 -type f -perm -u+x -print0)
fi
# Tools from Debian armel that busybox lacks (util-linux setpriv, systemd-socket-activate), with
# their libraries: see arm_setup_vm_tools in arm-lib.sh.
if [ -n "${ARM_VM_OVERLAY:-}" ] && [ -d "$ARM_VM_OVERLAY" ]; then
  cp -a "$ARM_VM_OVERLAY/." "$R/"
fi
# The workspace's sources (no target/, no .git) at the host path, and the test's working directory
# (cargo runs a test in its package's root), for tests that read files relative to it.
cwd=$PWD
if [ -n "${ARM_VM_SRC_DIR:-}" ] && [ -d "$ARM_VM_SRC_DIR" ]; then
  src=$(readlink -f "$ARM_VM_SRC_DIR")
  mkdir -p "$R$src"
  (cd "$src" && tar -c --exclude=./target --exclude=./.git --exclude='./fuzz/target' --exclude='./fuzz/corpus' \
     --exclude='./fuzz/artifacts' .) | tar -x -C "$R$src"
fi
mkdir -p "$R$cwd"

cat > "$R/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
cat > "$R/etc/group" <<'EOF'
root:x:0:
nogroup:x:65534:
EOF
cat > "$R/etc/hosts" <<'EOF'
127.0.0.1 localhost
::1 localhost ip6-localhost ip6-loopback
EOF
# shadow files as on a real system: root-only (tests check that a dropped process gets EACCES)
printf 'root:*:19000:0:99999:7:::\nnobody:*:19000:0:99999:7:::\n' > "$R/etc/shadow"
printf 'root:*::\nnogroup:*::\n' > "$R/etc/gshadow"
chmod 0640 "$R/etc/shadow" "$R/etc/gshadow"
printf 'passwd: files\ngroup: files\nshadow: files\nhosts: files\n' > "$R/etc/nsswitch.conf"
chmod 1777 "$R/tmp" "$R/var/tmp"

args=$(printf ' %q' "$@")
envs="PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root USER=root LOGNAME=root TMPDIR=/tmp"
for v in RUST_BACKTRACE RUST_TEST_THREADS RUST_LOG RUST_MIN_STACK RUST_TEST_TIME_UNIT \
         RUST_TEST_TIME_INTEGRATION STRICT_SANDBOX CI ${ARM_VM_EXTRA_ENV:-} $(compgen -e | grep '^TINSEL_' || true); do
  [ -n "${!v:-}" ] && envs+=" $v=$(printf %q "${!v}")"
done
cat > "$R/init" <<EOF
#!/bin/busybox sh
/bin/busybox mount -t devtmpfs dev /dev
exec </dev/console >/dev/console 2>&1
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t securityfs securityfs /sys/kernel/security 2>/dev/null
# / is the initramfs (tmpfs), /tmp on it (no separate tmpfs: the binaries may live under /tmp)
mkdir -p /dev/shm /dev/pts && mount -t tmpfs -o mode=1777 tmpfs /dev/shm
ip link set lo up 2>/dev/null || ifconfig lo 127.0.0.1 up
date -s @$(date +%s) >/dev/null   # raspi0 has no RTC: the host's clock
hostname pizero
echo "@@BEGIN"
echo "arm-vm-runner: $name in emulated Pi Zero: \$(uname -m), Linux \$(uname -r), \$(grep -c ^processor /proc/cpuinfo) CPU (\$(grep -m1 '^model name' /proc/cpuinfo | sed 's/.*: //')), \$(awk '/MemTotal/ {print int(\$2/1024)}' /proc/meminfo) MB, LSMs: \$(cat /sys/kernel/security/lsm 2>/dev/null || echo ?)"
cd $(printf %q "$cwd")
# stderr (the daemons' logs in the e2e tests) goes to a file, not the emulated serial console:
# heavy console output stalls QEMU's PL011 and with it the guest. Its tail is shown on failure.
env -i $envs $(printf %q "$BIN") $args 2>/tmp/stderr.log
rc=\$?
if [ "\$rc" != 0 ]; then echo "--- last 150 lines of stderr ---"; tail -n 150 /tmp/stderr.log; fi
echo "@@EXIT=\$rc"
poweroff -f
EOF
chmod +x "$R/init"
dtb_args=()
if [ -n "${ARM_VM_DTB:-}" ]; then
  cp "$ARM_VM_DTB" "$work/vm.dtb"
  fdtput -t bx "$work/vm.dtb" /chosen rng-seed $(od -An -tx1 -N64 /dev/urandom)
  dtb_args=(-dtb "$work/vm.dtb")
fi
# Uncompressed cpio: nothing to decompress on the emulated ARM core.
(cd "$R" && find . | cpio -o -H newc --quiet > "$work/initrd")

# The console goes to a file, streamed from there: with -nographic (stdio) a pipe that is briefly
# full made QEMU's PL011 lose the guest's TX interrupt, and the whole guest stalled on console
# writes (seen with the e2e daemons' logs).  A file write never blocks.
set +e
# A boot that never reaches init (no @@BEGIN within ARM_VM_BOOT_TIMEOUT) is an emulator flake,
# not a test result: it is retried once. Once the test binary has started, there is no retry.
boot_limit=${ARM_VM_BOOT_TIMEOUT:-120}
for attempt in 1 2; do
  : > "$work/log"
  # shellcheck disable=SC2086
  timeout "${ARM_VM_TIMEOUT:-300}" "${nice_cmd[@]}" qemu-system-arm ${ARM_VM_MACHINE_ARGS:?set ARM_VM_MACHINE_ARGS} "${dtb_args[@]}" \
    -nic none -display none -monitor none -serial "file:$work/log" -no-reboot \
    -kernel "$KERNEL" -initrd "$work/initrd" \
    -append "console=ttyAMA0 panic=-1 quiet loglevel=1 random.trust_bootloader=on" </dev/null &
  qpid=$!
  booted=0
  for _ in $(seq $((boot_limit * 5))); do
    if grep -q '^@@BEGIN' "$work/log" 2>/dev/null; then booted=1; break; fi
    kill -0 "$qpid" 2>/dev/null || break
    sleep 0.2
  done
  if [ "$booted" = 0 ] && [ "$attempt" = 1 ] && ! grep -q '^@@BEGIN' "$work/log" 2>/dev/null; then
    kill "$qpid" 2>/dev/null; wait "$qpid" 2>/dev/null
    echo "arm-vm-runner: $name: the VM did not reach init within ${boot_limit}s; booting it once more" >&2
    continue
  fi
  tail -n +1 -s 0.2 -f --pid="$qpid" "$work/log" | tr -d '\r' \
    | awk '/^@@BEGIN$/ {on=1; next} /^@@EXIT=[0-9]+$/ {on=0} on {print; fflush()}'
  wait "$qpid"
  qrc=$?
  break
done
set -e
code=$(tr -d '\r' < "$work/log" | sed -n 's/^@@EXIT=\([0-9]*\)$/\1/p')
if [ -z "$code" ]; then
  echo "arm-vm-runner: $name: no exit status from the VM (qemu/timeout status $qrc); console log:" >&2
  tr -d '\r' < "$work/log" >&2
  exit 101
fi
exit "$code"
