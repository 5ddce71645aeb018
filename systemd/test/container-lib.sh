# shellcheck shell=bash
# The tinsel .deb in a booted Debian bookworm container (systemd-nspawn),
# shared by systemd/test/container-test.sh (the units' checks) and
# bench/installed (the as-installed benchmark). Source it; needs root.
#
#   ct_host_tools                      debootstrap, systemd-nspawn, nsenter (apt-get when missing)
#   ct_build_deb OUTDIR PROFILE        cargo build (static) + cargo deb; prints the .deb's path
#   ct_build_deb_from_doc OUTDIR       the same, release, by docs/install.md's own commands (x86_64)
#   ct_bin_dir PROFILE                 where ct_build_deb's binaries are
#   ct_ensure_base                     the debootstrapped base system, cached in $ct_cache
#   ct_new_root ROOT                   a fresh copy of the base at ROOT; sets ct_nspawn
#   ct_install_deb DEB LOG             dpkg -i in the (not booted) container
#   ct_token_from_log LOG              the webhook token postinst printed once
#   ct_boot CONSOLE_LOG [NSPAWN_ARG...]  boot it (--private-network); sets ct_pid, ct_leader,
#                                      ct_state (running/degraded). Not in $(...): it sets globals
#   ct_inside CMD...                   run CMD inside the booted container (clean environment)
#   ct_host_pid UNIT                   the host's pid of UNIT's main process
#   ct_stop                            shut the container down (bounded)
#
# Environment: TINSEL_CT_CACHE (default /var/cache/tinsel-ct), CARGO_TARGET_DIR.

ct_repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
ct_cache=${TINSEL_CT_CACHE:-/var/cache/tinsel-ct}
ct_suite=bookworm
# Bump when the package list changes: the cache is keyed by it.
ct_base_version=1
ct_base_packages=systemd,systemd-sysv,dbus,curl,ca-certificates
ct_base=$ct_cache/$ct_suite-base-v$ct_base_version
ct_nspawn=()
ct_root=
ct_state=
ct_pid=
ct_leader=

ct_err() { echo "container: $*" >&2; }

ct_host_tools() {
  local need=()
  command -v debootstrap >/dev/null || need+=(debootstrap)
  command -v systemd-nspawn >/dev/null || need+=(systemd-container)
  command -v nsenter >/dev/null || need+=(util-linux)
  [ ${#need[@]} -eq 0 ] && return 0
  DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
}

# The package ships static binaries (packaging/build says why).
ct_bin_dir() { "$ct_repo/packaging/build" "$1"; } # PROFILE

ct_build_deb() { # OUTDIR PROFILE
  local out=$1 profile=$2
  command -v cargo-deb >/dev/null || cargo install cargo-deb --locked >&2 || return 1
  local bin packages
  # The packages whose binaries the .deb ships (its assets in ledd/Cargo.toml;
  # ledctl is ledd's), so a new daemon needs no edit here.
  packages=$(sed -n 's|^ *\["target/release/\([a-z0-9_-]*\)".*|\1|p' "$ct_repo/ledd/Cargo.toml" | grep -vx ledctl)
  # shellcheck disable=SC2086 # one word per package
  bin=$("$ct_repo/packaging/build" "$profile" $packages) || return 1
  # target/<triple>/<profile dir>: cargo-deb finds the binaries by triple.
  (cd "$ct_repo" && cargo deb -p ledd --no-build --profile "$profile" \
    --target "$(basename "$(dirname "$bin")")" --output "$out/") >&2 || return 1
  ls "$out"/tinsel_*.deb
}

# The amd64 .deb exactly as docs/install.md builds it: the block marked
# `<!-- ci: deb-amd64 -->` (scripts/doc-commands), run as written from the
# checkout's root, each command echoed, the first failing one failing the
# build, as it would stop a newcomer. The release profile, as the doc says.
ct_build_deb_from_doc() { # OUTDIR
  local out=$1 block target
  [ "$(uname -m)" = x86_64 ] || { ct_err "docs/install.md builds the amd64 package: x86_64 only (or --profile P)"; return 1; }
  command -v cargo-deb >/dev/null || cargo install cargo-deb --locked >&2 || return 1
  block=$("$ct_repo/scripts/doc-commands" show deb-amd64) || return 1
  target=${CARGO_TARGET_DIR:-$ct_repo/target}
  [[ $target == /* ]] || target=$ct_repo/$target
  rm -f "$target"/x86_64-unknown-linux-gnu/debian/tinsel_*.deb
  (cd "$ct_repo" && bash -eux -o pipefail -c "$block") >&2 || { ct_err "a command of docs/install.md failed (above)"; return 1; }
  cp "$target"/x86_64-unknown-linux-gnu/debian/tinsel_*_amd64.deb "$out/" || return 1
  ls "$out"/tinsel_*.deb
}

ct_ensure_base() {
  [ -e "$ct_base/.complete" ] && return 0
  local mirror
  mirror=$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  mirror=${mirror:-http://deb.debian.org/debian}
  rm -rf "$ct_base.tmp"
  mkdir -p "$ct_cache"
  if ! timeout 900 debootstrap --variant=minbase --include="$ct_base_packages" "$ct_suite" "$ct_base.tmp" "$mirror" >"$ct_cache/debootstrap.log" 2>&1; then
    tail -20 "$ct_cache/debootstrap.log" >&2
    ct_err "debootstrap failed (log: $ct_cache/debootstrap.log)"
    return 1
  fi
  rm -rf "$ct_base.tmp/var/cache/apt/archives/"*.deb
  touch "$ct_base.tmp/.complete"
  rm -rf "$ct_base"
  mv "$ct_base.tmp" "$ct_base"
}

ct_new_root() { # ROOT
  ct_root=$1
  cp -a --reflink=auto "$ct_base" "$1" || return 1
  rm -f "$1/.complete"
  # No host D-Bus or machined here: nspawn runs in our own scope, unregistered.
  # nspawn's own seccomp allowlist (systemd 252) lacks landlock_*: webd would
  # find Landlock "blocked" (EPERM) and refuse to start. On a Pi there is no
  # nspawn: allow them here so that the unit's own filter is what is tested.
  ct_nspawn=(systemd-nspawn --quiet --register=no --keep-unit --directory="$1" --machine=tinsel-test
             --system-call-filter='landlock_create_ruleset landlock_add_rule landlock_restrict_self')
}

ct_install_deb() { # DEB LOG
  cp "$1" "$ct_root/var/tmp/tinsel.deb" # nspawn mounts a fresh /tmp
  timeout 120 "${ct_nspawn[@]}" --console=pipe --setenv=DEBIAN_FRONTEND=noninteractive -- dpkg -i /var/tmp/tinsel.deb >"$2" 2>&1
}

ct_token_from_log() { sed -n 's/^    \([A-Za-z0-9_-]\{43\}\)$/\1/p' "$1" | head -n 1; }

ct_boot() { # CONSOLE_LOG [NSPAWN_ARG...]
  local log=$1
  shift
  "${ct_nspawn[@]}" "$@" --boot --private-network --console=passive >"$log" 2>&1 &
  ct_pid=$!
  ct_leader=
  for _ in $(seq 1 60); do
    ct_leader=$(ps -o pid= --ppid "$ct_pid" 2>/dev/null | tr -d ' ' | head -n 1 || true)
    [ -n "$ct_leader" ] && [ "$(cat "/proc/$ct_leader/comm" 2>/dev/null)" = systemd ] && break
    ct_leader=
    sleep 0.5
  done
  [ -n "$ct_leader" ] || { cat "$log" >&2; ct_err "the container's systemd did not start"; return 1; }
  ct_state=$(ct_inside timeout 90 systemctl is-system-running --wait 2>/dev/null || true)
  case $ct_state in
    running|degraded) ;;
    *) ct_inside systemctl --failed --no-pager >&2 || true
       ct_err "the container did not finish booting (state: ${ct_state:-timeout})"; return 1 ;;
  esac
}

ct_inside() { nsenter --target "$ct_leader" --all env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"; }

ct_host_pid() { # UNIT: the container's MainPID, seen from the host
  local inner p
  inner=$(ct_inside systemctl show -P MainPID "$1") || return 1
  [ -n "$inner" ] && [ "$inner" != 0 ] || return 1
  for p in /proc/[0-9]*; do
    [ "$(readlink "$p/ns/pid" 2>/dev/null)" = "$(readlink "/proc/$ct_leader/ns/pid")" ] || continue
    if [ "$(awk '$1 == "NSpid:" {print $NF}' "$p/status" 2>/dev/null)" = "$inner" ]; then
      echo "${p#/proc/}"
      return 0
    fi
  done
  return 1
}

ct_stop() {
  [ -n "$ct_pid" ] && kill -0 "$ct_pid" 2>/dev/null || return 0
  kill -TERM "$ct_pid" 2>/dev/null || true # nspawn shuts the container down
  for _ in $(seq 1 30); do kill -0 "$ct_pid" 2>/dev/null || break; sleep 0.5; done
  kill -KILL "$ct_pid" 2>/dev/null || true
  wait "$ct_pid" 2>/dev/null || true
  ct_pid=
}
