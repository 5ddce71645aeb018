#!/usr/bin/env bash
# Static checks of tinsel's systemd units, for CI (a few seconds, no root):
#
#   systemd-analyze verify         clean (no output at all) for every unit in
#                                  systemd/ and for ledd with the SPI drop-in
#   systemd-analyze security       each service <= 0.5 (webd, schedd, any new
#                                  one), mqttd.service <= 1.0, ledd.service <= 1.6,
#     --offline=true               ledd.service + ledd-spi.conf <= 0.6
#                                  (ledd's 0.1 over 1.5 and 0.5 is sched_setscheduler,
#                                  which lets ledd's socket server leave SCHED_FIFO:
#                                  see ledd.service, "Scheduling")
#
# Usage: systemd/check-units.sh [--bin-dir DIR]
#   --bin-dir DIR   copy each unit's real daemon (ledd, webd, ...) from DIR into the scratch root
#                   (default: executable stand-ins; `verify` only checks that
#                   ExecStart= names an executable file).
#
# `verify` runs against a scratch root (--root) holding the host's systemd
# units, these units and the ExecStart= binaries at their installed paths,
# so nothing is installed on the machine running the check.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin_dir=
while [ $# -gt 0 ]; do
  case $1 in
    --bin-dir) bin_dir=$2; shift 2 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "check-units: unknown argument $1" >&2; exit 64 ;;
  esac
done
command -v systemd-analyze >/dev/null || { echo "check-units: systemd-analyze is missing (apt-get install systemd)" >&2; exit 69; }

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
# Every unit in this directory, and the daemon each runs (its name), so a
# new daemon's unit is verified and scored without an edit here.
units=()
for f in "$here"/*.service "$here"/*.socket; do units+=("$(basename "$f")"); done
daemons=()
for f in "$here"/*.service; do daemons+=("$(basename "$f" .service)"); done
# The exposure each service may have (systemd-analyze security: 0 best,
# 10 worst); a service not named here gets the strictest, 0.5.
declare -A limit=([ledd.service]=1.6 [mqttd.service]=1.0)
fail=0

make_root() { # $1 = root, $2 = with the SPI drop-in (yes/no)
  local r=$1
  mkdir -p "$r/usr/bin" "$r/bin" "$r/usr/lib/systemd" "$r/etc/systemd/system"
  cp -a /usr/lib/systemd/system "$r/usr/lib/systemd/"
  for u in "${units[@]}"; do cp "$here/$u" "$r/usr/lib/systemd/system/"; done
  for b in "${daemons[@]}"; do
    if [ -n "$bin_dir" ]; then
      cp "$bin_dir/$b" "$r/usr/bin/$b"
    else
      printf '#!/bin/sh\nexit 0\n' >"$r/usr/bin/$b"; chmod 755 "$r/usr/bin/$b"
    fi
  done
  printf '#!/bin/sh\nexit 0\n' >"$r/bin/sh"; chmod 755 "$r/bin/sh"
  if [ "$2" = yes ]; then
    mkdir -p "$r/etc/systemd/system/ledd.service.d"
    cp "$here/ledd-spi.conf" "$r/etc/systemd/system/ledd.service.d/spi.conf"
  fi
}

verify() { # $1 = root, rest = units
  local r=$1; shift
  local out
  out=$(systemd-analyze verify --root="$r" "$@" 2>&1) || true
  if [ -n "$out" ]; then
    echo "FAIL systemd-analyze verify $*:"; echo "$out" | sed 's/^/    /'; fail=1
  else
    echo "ok   systemd-analyze verify $*"
  fi
}

score() { # $1 = root, $2 = unit, $3 = limit, $4 = label
  local out level
  out=$(systemd-analyze security --offline=true --root="$1" "$2" 2>&1) || true
  level=$(printf '%s\n' "$out" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
  if [ -z "$level" ]; then
    echo "FAIL security $4: no score"; echo "$out" | tail -5 | sed 's/^/    /'; fail=1
  elif awk -v l="$level" -v m="$3" 'BEGIN { exit !(l <= m) }'; then
    echo "ok   security $4: $level (limit $3)"
  else
    echo "FAIL security $4: $level (limit $3)"
    printf '%s\n' "$out" | grep '✗' | sed 's/^/    /'; fail=1
  fi
}

make_root "$scratch/plain" no
make_root "$scratch/spi" yes
verify "$scratch/plain" "${units[@]}"
verify "$scratch/spi" ledd.service
for d in "${daemons[@]}"; do
  score "$scratch/plain" "$d.service" "${limit[$d.service]:-0.5}" "$d.service"
done
score "$scratch/spi" ledd.service 0.6 "ledd.service + ledd-spi.conf"
exit $fail
