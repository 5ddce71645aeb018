#!/usr/bin/env bash
# The units under a real systemd 252: boot a Debian bookworm container, install
# the tinsel .deb, and check socket activation, the webhook path and the sandbox.
#
# Usage (as root):  systemd/test/container-test.sh [--deb FILE | --profile P] [--keep]
#   (default)    build the .deb with docs/install.md's own commands, as
#                written: its block marked `<!-- ci: deb-amd64 -->` (the
#                static release build of ledd, webd, schedd and mqttd, then
#                cargo deb -p ledd --no-build), after `scripts/doc-commands
#                check` has checked every packaging command of the doc
#   --deb FILE   test this .deb instead of building one
#   --keep       keep the container's directory afterwards (it is kept anyway
#                when a check fails)
#   --profile P  build and package the `release` or `dev` profile with
#                packaging/build instead of the doc's commands; `dev` is
#                the quicker build (cargo-deb warns that it is meant for
#                releases: expected)
# Environment:
#   TINSEL_CT_CACHE   where the debootstrapped base system is cached
#                     (default /var/cache/tinsel-ct; delete it to start cold)
#   CARGO_TARGET_DIR  as for cargo (default: target/ in the checkout)
#
# What it checks, in order (each wait is bounded; the whole run is ~1-2 min
# with a warm cache and built binaries):
#   - the package installs into a fresh bookworm (users from sysusers, a
#     self-signed certificate, webd.toml with the token's hash only, the token
#     printed once, privkey.pem root-only);
#   - after boot ledd.socket, ledd.service and webd.socket are active and
#     webd.service is not: webd starts only when a client connects;
#   - an HTTPS webhook to port 443 without a token gets 401 and one with the
#     token gets 200, webd.service is then active (socket activation), and
#     ledd reports the new animation (`ledctl status --json`);
#   - webd runs as tinsel-web, in its own network namespace (PrivateNetwork=
#     yes and still serving the socket systemd passed), with every capability
#     set empty, NoNewPrivs 1 and Seccomp 2;
#   - webd's journal shows each of its sandbox steps succeeding under the
#     unit's SystemCallFilter (Landlock enforced when the kernel has it,
#     seccomp "kill process"), and no process died of SIGSYS;
#   - `systemctl reload webd` (SIGHUP: re-reads config, certificate and the
#     credential key under Landlock) keeps webd serving;
#   - with [page] on, `webd pair` and the code's POST pair a device whose
#     file webd writes into /var/lib/tinsel/webd (StateDirectory=, tinsel-web
#     0700), the device plays, and `webd revoke` makes it 401;
#   - ledd's frame loop thread runs SCHED_FIFO (priority 10) and every other
#     thread of ledd SCHED_OTHER, as root and with ledd-spi.conf;
#   - after `systemctl restart ledd` webd reconnects by itself;
#   - with ledd-spi.conf installed (simulated strip; /dev/null stands in for
#     /dev/spidev0.0) ledd runs as tinsel-led with no capabilities, opens the
#     device node, and still serves webd;
#   - schedd.service runs from boot as tinsel-sched with every capability set
#     empty, NoNewPrivs 1, Seccomp 2, one thread, a network namespace of its
#     own, its seven sandbox steps logged, and does nothing with the packaged
#     config; with an entry at the current minute it waits for timesyncd's
#     flag, then makes ledd play it, and puts it back after ledd restarts.
#   - mqttd.service runs as tinsel-mqtt with no capabilities, NoNewPrivs 1,
#     Seccomp 2, logs its seven sandbox steps, reaches ledd, and waits for
#     a broker that is not there without exiting.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=container-lib.sh
. "$here/container-lib.sh"
deb=
keep=no
profile=
while [ $# -gt 0 ]; do
  case $1 in
    --deb) deb=$(realpath "$2"); shift 2 ;;
    --keep) keep=yes; shift ;;
    --profile) profile=$2; shift 2 ;;
    -h|--help) sed -n "2,/^set -euo/p" "$0" | sed "$ d"; exit 0 ;;
    *) echo "container-test: unknown argument $1" >&2; exit 64 ;;
  esac
done

t0=$SECONDS
step() { echo "== [$((SECONDS - t0))s] $*"; }
ok() { echo "   ok: $*"; }
failed=no
fail() {
  echo "   FAIL: $*" >&2
  failed=yes
  exit 1
}

[ "$(id -u)" = 0 ] || { echo "container-test: run as root (debootstrap, systemd-nspawn)" >&2; exit 77; }

# ---------------------------------------------------------------- host tools
step "host tools"
ct_host_tools || fail "installing debootstrap, systemd-container, util-linux"

work=$(mktemp -d /var/tmp/tinsel-ct.XXXXXX)
root=$work/root
cleanup() {
  local rc=$?
  ct_stop
  if [ "$failed" = yes ] || [ $rc -ne 0 ]; then
    if [ -d "$root" ]; then
      echo "--- webd and ledd journals (kept in $work)" >&2
      journalctl -D "$root/var/log/journal" --no-pager -o short-monotonic -u webd.service -u ledd.service -u schedd.service 2>/dev/null | tail -60 >&2 || true
    fi
    echo "container-test: FAILED after $((SECONDS - t0))s; the container is in $work" >&2
  elif [ "$keep" = yes ]; then
    echo "container-test: the container is in $work"
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT

# ------------------------------------------------------------------- the .deb
if [ -z "$deb" ] && [ -n "$profile" ]; then
  step "build the .deb ($profile profile)"
  deb=$(ct_build_deb "$work" "$profile") || fail "building the .deb"
elif [ -z "$deb" ]; then
  step "build the .deb with docs/install.md's commands, as written"
  "$ct_repo/scripts/doc-commands" check || fail "docs/install.md's packaging commands (scripts/doc-commands check)"
  deb=$(ct_build_deb_from_doc "$work") || fail "building the .deb with docs/install.md's commands"
fi
ok "package: $deb"

# ------------------------------------------------- the base system (cached)
if [ ! -e "$ct_base/.complete" ]; then
  step "debootstrap $ct_suite into $ct_base (cached for later runs)"
  ct_ensure_base || fail "debootstrap"
fi
step "fresh copy of the base system"
ct_new_root "$root" || fail "copying $ct_base"
# Not testable here: ledd's mlockall (nspawn filters @memlock, and the
# container's hard RLIMIT_MEMLOCK stays at the host's 8 MiB, so the unit's
# LimitMEMLOCK=infinity cannot take effect).

# --------------------------------------------------------------- installation
step "install the package (dpkg -i, container not booted)"
install_log=$work/install.log
ct_install_deb "$deb" "$install_log" || { cat "$install_log" >&2; fail "dpkg -i"; }
token=$(ct_token_from_log "$install_log")
[ -n "$token" ] || { cat "$install_log" >&2; fail "postinst printed no token"; }
ok "postinst printed a token"
grep -q "^tinsel-web:x:[1-9][0-9]*:" "$root/etc/passwd" || fail "no user tinsel-web"
grep -q "^tinsel:x:" "$root/etc/group" || fail "no group tinsel"
grep -q "^tinsel-sched:x:[1-9][0-9]*:" "$root/etc/passwd" || fail "no user tinsel-sched"
ok "sysusers: $(grep -E '^tinsel' "$root/etc/passwd" | cut -d: -f1,3,4 | tr '\n' ' ')"
tinsel_gid=$(awk -F: '$1 == "tinsel" {print $3}' "$root/etc/group")   # numeric: the host's names differ
[ "$(stat -c '%a %u' "$root/etc/tinsel/tls/privkey.pem")" = "600 0" ] || fail "privkey.pem is not 0600 root"
[ "$(stat -c '%a %u %g' "$root/etc/tinsel/webd.toml")" = "640 0 $tinsel_gid" ] || fail "webd.toml is not 0640 root:tinsel"
grep -q '^sha256 = "[0-9a-f]\{64\}"' "$root/etc/tinsel/webd.toml" || fail "webd.toml holds no token hash"
! grep -qF "$token" "$root/etc/tinsel/webd.toml" || fail "webd.toml holds the token itself"
ok "privkey.pem 0600 root, webd.toml 0640 root:tinsel with the hash only"
for u in ledd.service ledd.socket webd.socket schedd.service; do
  [ -n "$(find "$root/etc/systemd/system" -name "$u" -type l)" ] || fail "$u is not enabled"
done
ok "ledd.service, ledd.socket, webd.socket and schedd.service enabled"

# Reinstalling must not replace the certificate, key or config.
sum_before=$(cat "$root/etc/tinsel/tls/privkey.pem" "$root/etc/tinsel/webd.toml" | md5sum)
ct_install_deb "$deb" "$work/reinstall.log" || { cat "$work/reinstall.log" >&2; fail "dpkg -i (again)"; }
[ "$(cat "$root/etc/tinsel/tls/privkey.pem" "$root/etc/tinsel/webd.toml" | md5sum)" = "$sum_before" ] || fail "reinstall changed the key or webd.toml"
! grep -q '^    [A-Za-z0-9_-]\{43\}$' "$work/reinstall.log" || fail "reinstall printed a new token"
ok "reinstall keeps the key, webd.toml and token"

# The kernel's Landlock, as webd sees it outside any filter.
if "$root/usr/bin/webd" check 2>/dev/null | grep -q '^landlock *ABI [0-9]'; then
  expect_landlock=enforced
else
  expect_landlock=unavailable
fi

# ------------------------------------------------------------------------ boot
step "boot the container (systemd-nspawn --boot --private-network)"
ct_boot "$work/console.log" || fail "booting the container"
ok "booted ($ct_state)"
inside() { ct_inside "$@"; }

jwebd() { inside journalctl -u webd.service -o cat --no-pager "$@"; }
status_of() { inside cat "/proc/$1/status"; }
field() { awk -v k="$2:" '$1 == k {print $2}' <<<"$1"; }
main_pid() { inside systemctl show -P MainPID "$1"; }
# The .deb's daemons are static and look names up in /etc/passwd and
# /etc/group first: no shared object in their maps (a dynamic build maps
# libc, ld.so, libm, libgcc_s; an NSS module brings a whole libc of its own).
check_no_shared_objects() { # PID LABEL
  local so
  so=$(inside cat "/proc/$1/maps" | awk '$6 ~ /[.]so/ {print $6}' | sort -u | paste -sd ' ' -)
  [ -z "$so" ] || fail "$2 maps shared objects: $so (the .deb's binaries must be static: ct_build_deb)"
  ok "$2 maps no shared object (static; names from /etc/passwd and /etc/group)"
  # Their start-up relocations are packed (DT_RELR, packaging/build): the
  # unpacked table stays resident, ~190 KB in webd.
  readelf -d "$root/usr/bin/$2" | grep -q '(RELR)' ||
    fail "$2 has no packed relocations (DT_RELR): build the .deb with packaging/build"
  ok "$2 has its start-up relocations packed (DT_RELR)"
}
post() { # post HOOK [token] → prints "HTTP_CODE BODY"
  local auth=()
  [ -n "${2:-}" ] && auth=(-H "Authorization: Bearer $2")
  inside curl -sS --max-time 15 --cacert /etc/tinsel/tls/fullchain.pem "${auth[@]}" \
    -X POST -o /dev/stdout -w ' %{http_code}' "https://127.0.0.1/hooks/$1" 2>&1 || true
}
animation() { inside timeout 10 ledctl status --json | grep -o '"animation": *"[^"]*"' | sed 's/.*"\([^"]*\)"$/\1/'; }
# ledd's threads as installed: the frame loop (the thread named ledd-frames,
# ledd/src/engine.rs) SCHED_FIFO at priority 10 (ledd.service's
# CPUSchedulingPolicy=fifo), every other thread SCHED_OTHER. From
# /proc/PID/task/TID/stat: field 40 rt_priority, 41 policy (0 OTHER, 1 FIFO).
check_scheduling() { # PID LABEL
  local line comm policy prio frames=0 others=0
  while read -r line; do
    read -r comm policy prio <<<"$(awk '{print $1, $40, $39}' <<<"$line")"
    if [ "$comm" = ledd-frames ]; then
      [ "$policy" = 1 ] && [ "$prio" = 10 ] || fail "$2: the frame loop thread runs policy $policy priority $prio, not SCHED_FIFO (1) at 10"
      frames=$((frames + 1))
    else
      [ "$policy" = 0 ] || fail "$2: ledd's thread '$comm' runs policy $policy, not SCHED_OTHER (0): only the frame loop may be real-time"
      others=$((others + 1))
    fi
  done < <(inside sh -c 'for t in /proc/$1/task/*; do echo "$(cat "$t/comm") $(cut -d")" -f2- "$t/stat")"; done' sh "$1")
  [ "$frames" = 1 ] || fail "$2: $frames threads named ledd-frames in ledd $1"
  ok "$2: frame loop thread SCHED_FIFO priority 10, the other $others thread(s) SCHED_OTHER"
  ! inside journalctl -u ledd.service -o cat --no-pager _PID="$1" | grep -q 'SCHED_FIFO refused' || fail "$2: ledd logged 'SCHED_FIFO refused'"
}

# ----------------------------------------------------------- units at rest
step "units after boot"
for u in ledd.socket ledd.service webd.socket; do
  [ "$(inside systemctl is-active "$u" || true)" = active ] || { inside systemctl status "$u" --no-pager >&2 || true; fail "$u is not active"; }
done
[ "$(inside systemctl is-active webd.service || true)" = inactive ] || fail "webd.service runs before any client connected"
ok "ledd.socket, ledd.service, webd.socket active; webd.service waits for a client"
[ "$(inside stat -c '%a %U %G' /run/tinsel/ledd.sock)" = "660 root tinsel" ] || fail "ledd.sock is not 0660 root:tinsel"
ok "/run/tinsel/ledd.sock 0660 root:tinsel"
before=$(animation || true)
ok "ledd plays: ${before:-nothing}"

# ------------------------------------------------ the webhook, socket-activated
step "HTTPS webhooks through socket activation"
r=$(post rainbow)
[ "${r##* }" = 401 ] || fail "no token: expected 401, got: $r"
ok "no token: 401"
[ "$(inside systemctl is-active webd.service || true)" = active ] || fail "the first connection did not start webd.service"
ok "the first connection started webd.service"
r=$(post rainbow "$token")
[ "${r##* }" = 200 ] && [[ $r == *'"ok":true'* ]] || fail "with the token: expected 200, got: $r"
ok "with the token: ${r% *} (200)"
now=$(animation || true)
[ "$now" = rainbow ] || fail "ledd plays '${now:-nothing}' after the webhook, not rainbow"
ok "ledd now plays rainbow (before: ${before:-nothing})"
jwebd | grep -q 'webd ready: https on .*(socket-activated)' || fail "webd did not say it was socket-activated"
ok "webd: serving the socket systemd passed"

# ----------------------------------------------------------- webd's process
step "webd's process"
pid=$(main_pid webd.service)
[ -n "$pid" ] && [ "$pid" != 0 ] || fail "no MainPID for webd.service"
st=$(status_of "$pid")
web_uid=$(inside id -u tinsel-web)
read -r -a uids <<<"$(awk '$1 == "Uid:" {print $2, $3, $4, $5}' <<<"$st")"
for u in "${uids[@]}"; do [ "$u" = "$web_uid" ] || fail "webd uid line: ${uids[*]} (tinsel-web is $web_uid)"; done
ok "uid ${uids[*]} (tinsel-web), gid $(awk '$1 == "Gid:" {print $2}' <<<"$st")"
for c in CapInh CapPrm CapEff CapBnd CapAmb; do
  [ "$(field "$st" "$c")" = 0000000000000000 ] || fail "webd $c = $(field "$st" "$c")"
done
ok "CapInh/CapPrm/CapEff/CapBnd/CapAmb all 0"
[ "$(field "$st" NoNewPrivs)" = 1 ] || fail "webd NoNewPrivs = $(field "$st" NoNewPrivs)"
[ "$(field "$st" Seccomp)" = 2 ] || fail "webd Seccomp = $(field "$st" Seccomp)"
ok "NoNewPrivs 1, Seccomp 2 ($(field "$st" Seccomp_filters) filters: nspawn's, the unit's, webd's)"
[ "$(inside readlink "/proc/$pid/ns/net")" != "$(inside readlink /proc/1/ns/net)" ] || fail "webd shares the container's network namespace"
ok "webd has a network namespace of its own (PrivateNetwork=yes) and still serves"
inside test -S /run/dbus/system_bus_socket || fail "the container has no D-Bus socket to compare with"
run_sockets=$(inside find "/proc/$pid/root/run" -type s | sed "s|^/proc/$pid/root||" | paste -sd ' ' -)
[ "$run_sockets" = /run/tinsel/ledd.sock ] || fail "sockets in webd's /run: $run_sockets (expected only /run/tinsel/ledd.sock)"
ok "the one socket in webd's /run is ledd's (no D-Bus, no systemd sockets)"
[ "$(field "$st" Threads)" = 1 ] || fail "webd has $(field "$st" Threads) threads, expected 1"
ok "one thread"
check_no_shared_objects "$pid" webd
# An unknown name is an error, never an NSS lookup: in a static binary,
# glibc's loading of libnss_systemd crashes on a name it does not know.
rc=0
out=$(inside /usr/bin/webd cert self-signed --out /tmp/tinsel-cert-check --name localhost \
  --group no-such-group-ct 2>&1) || rc=$?
[ "$rc" -ge 1 ] && [ "$rc" -lt 128 ] && grep -q 'no group named' <<<"$out" ||
  fail "webd cert self-signed --group no-such-group-ct: exit $rc: $out"
ok "webd cert self-signed --group with an unknown group: exit $rc, \"no group named\" (no NSS lookup)"

step "webd's sandbox steps, from its journal"
log=$(jwebd _PID="$pid")
for s in ensure_single_threaded close_inherited_fds drop_privileges clear_capabilities set_no_new_privs landlock seccomp; do
  grep -q "^.*sandbox: $s: " <<<"$log" || { echo "$log" >&2; fail "no line for sandbox step $s"; }
done
ok "all seven steps logged"
case $expect_landlock in
  enforced) grep -q 'sandbox: landlock: enforced (ABI [0-9]*): filesystem on' <<<"$log" || fail "Landlock not enforced under the unit: $(grep 'sandbox: landlock' <<<"$log")" ;;
  *) grep -q 'sandbox: landlock: unavailable: not' <<<"$log" || fail "Landlock: $(grep 'sandbox: landlock' <<<"$log")" ;;
esac
ok "$(grep -o 'sandbox: landlock: [^;]*' <<<"$log")"
grep -q 'sandbox: seccomp: [0-9]* syscalls allowed, [0-9]* BPF instructions, on violation: kill process' <<<"$log" || fail "webd's seccomp step: $(grep 'sandbox: seccomp' <<<"$log")"
ok "$(grep -o 'sandbox: seccomp: .*' <<<"$log")"
grep -q 'sandbox: live layers' <<<"$log" || fail "no live-layers line"
ok "live layers: $(sed -n '/live layers/,$p' <<<"$log" | sed -n '2,6p' | sed 's/^ *//' | paste -sd ';' -)"

step "reload (SIGHUP re-reads config, certificate and key under Landlock)"
since=$(inside date +%s)
inside timeout 15 systemctl reload webd.service || fail "systemctl reload webd"
sleep 1
r=$(post fire "$token")
[ "${r##* }" = 200 ] || fail "after reload: $r"
[ "$(main_pid webd.service)" = "$pid" ] || fail "webd restarted instead of reloading"
! jwebd --since "@$since" | grep -q 'reload failed' || fail "webd: $(jwebd --since "@$since" | grep 'reload failed')"
ok "same process, no 'reload failed', hooks still work"

step "the page: pairing writes only /var/lib/tinsel/webd (StateDirectory=)"
inside sed -i 's/^enabled = false$/enabled = true/' /etc/tinsel/webd.toml
inside timeout 15 systemctl restart webd.service || fail "systemctl restart webd"
link=$(inside webd pair --config /etc/tinsel/webd.toml --url https://127.0.0.1 --name ct-phone 2>/dev/null | grep '^https://') ||
  fail "webd pair printed no link"
code=${link#*#}
page_curl() { inside curl -sS --max-time 15 --cacert /etc/tinsel/tls/fullchain.pem -H 'Origin: https://127.0.0.1' -H 'Content-Type: application/json' "$@"; }
headers=$(page_curl -D - -o /dev/null -d "{\"code\":\"$code\"}" https://127.0.0.1/pair) || fail "POST /pair"
cookie=$(grep -i '^set-cookie: __Host-tinsel-device=' <<<"$headers" | sed 's/^[^:]*: //; s/;.*//' | tr -d '\r')
[ -n "$cookie" ] || fail "pairing set no device cookie: $headers"
[ "$(inside stat -c '%U %a' /var/lib/tinsel/webd)" = "tinsel-web 700" ] || fail "/var/lib/tinsel/webd is not tinsel-web 0700"
inside sh -c 'stat -c "%U %a %n" /var/lib/tinsel/webd/device-*' | grep -q '^tinsel-web 600 ' || fail "no device file owned by tinsel-web, 0600"
r=$(page_curl -H "Cookie: $cookie" -o /dev/null -w '%{http_code}' -d '{"animation":"comet"}' https://127.0.0.1/page/play)
[ "$r" = 200 ] || fail "the paired device's play: $r"
[ "$(animation || true)" = comet ] || fail "ledd does not play comet after the page's play"
inside webd revoke --config /etc/tinsel/webd.toml ct-phone >/dev/null || fail "webd revoke"
r=$(page_curl -H "Cookie: $cookie" -o /dev/null -w '%{http_code}' -d '{"animation":"solid"}' https://127.0.0.1/page/play)
[ "$r" = 401 ] || fail "a revoked device's play: $r"
ok "paired under the unit (device file tinsel-web 0600 in /var/lib/tinsel/webd), played comet, revoked: 401"

# ------------------------------------------------------------------- ledd
step "ledd"
lpid=$(main_pid ledd.service)
lst=$(status_of "$lpid")
ok "ledd pid $lpid: uid $(awk '$1 == "Uid:" {print $2}' <<<"$lst"), CapEff $(field "$lst" CapEff), CapBnd $(field "$lst" CapBnd), NoNewPrivs $(field "$lst" NoNewPrivs), Seccomp $(field "$lst" Seccomp)"
if inside journalctl -u ledd.service -o cat --no-pager _PID="$lpid" | grep -q 'harden: '; then
  for c in CapEff CapPrm CapBnd; do
    [ "$(field "$lst" "$c")" = 0000000000000000 ] || fail "ledd hardened but $c = $(field "$lst" "$c")"
  done
  [ "$(field "$lst" NoNewPrivs)" = 1 ] || fail "ledd hardened but NoNewPrivs = 0"
  ok "ledd hardened itself under the unit: $(inside journalctl -u ledd.service -o cat --no-pager _PID="$lpid" | grep -o 'harden: capabilities: .*' | tail -n 1)"
else
  echo "   note: this ledd logs no 'harden:' steps (its hardening is not wired in yet)"
fi
check_scheduling "$lpid" "ledd as root"
check_no_shared_objects "$lpid" ledd
inside timeout 15 systemctl restart ledd.service || fail "systemctl restart ledd"
ok=no
for _ in $(seq 1 20); do
  r=$(post candy-cane "$token")
  [ "${r##* }" = 200 ] && { ok=yes; break; }
  sleep 0.5
done
[ $ok = yes ] || fail "webd did not get back to ledd after its restart: $r"
[ "$(animation || true)" = candy-cane ] || fail "ledd does not play candy-cane"
ok "after restarting ledd, webd reconnected by itself"

# ------------------------------------------------------- the SPI drop-in
step "ledd without root (ledd-spi.conf, simulated strip)"
inside mkdir -p /etc/systemd/system/ledd.service.d
inside cp /usr/share/tinsel/ledd-spi.conf /etc/systemd/system/ledd.service.d/spi.conf
# The container has no SPI controller: /dev/null stands in for the node, and
# ExecStartPre proves the unit can open it read-write.
# (BindPaths= first empties the list: of two binds onto one path the first,
# the drop-in's optional and here missing /dev/spidev0.0, would win.)
printf '%s\n' '[Service]' 'BindPaths=' 'BindPaths=/dev/null:/dev/spidev0.0' \
  "ExecStartPre=/bin/sh -c 'exec 3<>/dev/spidev0.0'" | inside tee /etc/systemd/system/ledd.service.d/zz-container-test.conf >/dev/null
inside systemctl daemon-reload
inside timeout 20 systemctl restart ledd.service || { inside systemctl status ledd.service --no-pager >&2 || true; fail "ledd with ledd-spi.conf did not start"; }
lpid=$(main_pid ledd.service)
lst=$(status_of "$lpid")
led_uid=$(inside id -u tinsel-led)
[ "$(awk '$1 == "Uid:" {print $2}' <<<"$lst")" = "$led_uid" ] || fail "ledd runs as uid $(awk '$1 == "Uid:" {print $2}' <<<"$lst"), not tinsel-led"
for c in CapPrm CapEff CapBnd CapAmb; do
  [ "$(field "$lst" "$c")" = 0000000000000000 ] || fail "ledd (SPI) $c = $(field "$lst" "$c")"
done
ok "ledd runs as tinsel-led ($led_uid) with every capability set empty, Seccomp $(field "$lst" Seccomp)"
check_scheduling "$lpid" "ledd as tinsel-led"
ok=no
for _ in $(seq 1 20); do
  r=$(post snowfall "$token")
  [ "${r##* }" = 200 ] && { ok=yes; break; }
  sleep 0.5
done
[ $ok = yes ] || fail "webhook with the unprivileged ledd: $r"
[ "$(animation || true)" = snowfall ] || fail "the unprivileged ledd does not play snowfall"
ok "the unprivileged ledd gives webd the hooks role and plays snowfall"

# ------------------------------------------------------------------- schedd
step "schedd's process"
jsched() { inside journalctl -u schedd.service -o cat --no-pager "$@"; }
[ "$(inside systemctl is-active schedd.service || true)" = active ] || { jsched >&2 || true; fail "schedd.service is not active"; }
spid=$(main_pid schedd.service)
sst=$(status_of "$spid")
sched_uid=$(inside id -u tinsel-sched)
read -r -a suids <<<"$(awk '$1 == "Uid:" {print $2, $3, $4, $5}' <<<"$sst")"
for u in "${suids[@]}"; do [ "$u" = "$sched_uid" ] || fail "schedd uid line: ${suids[*]} (tinsel-sched is $sched_uid)"; done
for c in CapInh CapPrm CapEff CapBnd CapAmb; do
  [ "$(field "$sst" "$c")" = 0000000000000000 ] || fail "schedd $c = $(field "$sst" "$c")"
done
[ "$(field "$sst" NoNewPrivs)" = 1 ] || fail "schedd NoNewPrivs = $(field "$sst" NoNewPrivs)"
[ "$(field "$sst" Seccomp)" = 2 ] || fail "schedd Seccomp = $(field "$sst" Seccomp)"
[ "$(field "$sst" Threads)" = 1 ] || fail "schedd has $(field "$sst" Threads) threads, expected 1"
[ "$(inside readlink "/proc/$spid/ns/net")" != "$(inside readlink /proc/1/ns/net)" ] || fail "schedd shares the container's network namespace"
ok "uid ${suids[*]} (tinsel-sched), capabilities empty, NoNewPrivs 1, Seccomp 2, one thread, own network namespace"
slog=$(jsched _PID="$spid")
for s in ensure_single_threaded close_inherited_fds drop_privileges clear_capabilities set_no_new_privs landlock seccomp; do
  grep -q "sandbox: $s: " <<<"$slog" || { echo "$slog" >&2; fail "schedd: no line for sandbox step $s"; }
done
grep -q 'sandbox: seccomp: [0-9]* syscalls allowed, [0-9]* BPF instructions, on violation: kill process' <<<"$slog" || fail "schedd's seccomp step: $(grep 'sandbox: seccomp' <<<"$slog")"
ok "all seven sandbox steps logged; $(grep -o 'sandbox: landlock: [^;]*' <<<"$slog")"
grep -q 'no entries are enabled' <<<"$slog" || fail "schedd with the packaged config: $(tail -3 <<<"$slog")"
ok "the packaged config does nothing"

step "schedd: the clock gate, an entry, and ledd's restart"
# The container runs no timesyncd (ConditionVirtualization=!container): the
# flag's directory is made here, empty, before schedd starts, so the unit
# binds it; the flag comes later.
minute=$(inside date -u +%H:%M)
inside mkdir -p /run/systemd/timesync
inside rm -f /run/systemd/timesync/synchronized
printf '%s\n' 'timezone = "UTC"' 'user = "tinsel-sched"' 'group = "tinsel"' \
  '[[entries]]' 'name = "container-now"' "at = \"$minute\"" 'animation = "aurora"' \
  | inside tee /etc/tinsel/schedd.toml >/dev/null
since=$(inside date +%s)
inside timeout 15 systemctl restart schedd.service || fail "systemctl restart schedd"
ok=no
for _ in $(seq 1 20); do
  jsched --since "@$since" | grep -q 'waiting for a synchronised clock' && { ok=yes; break; }
  sleep 0.5
done
[ $ok = yes ] || fail "schedd did not say it waits for the clock: $(jsched --since "@$since" | tail -5)"
[ "$(animation || true)" != aurora ] || fail "schedd played before the clock was synchronised"
ok "waits for /run/systemd/timesync/synchronized, plays nothing"
inside touch /run/systemd/timesync/synchronized
ok=no
for _ in $(seq 1 40); do   # schedd looks every 10 s
  [ "$(animation || true)" = aurora ] && { ok=yes; break; }
  sleep 0.5
done
[ $ok = yes ] || fail "schedd did not play its entry once the clock was synchronised: $(jsched --since "@$since" | tail -5)"
ok "clock synchronised: ledd plays the entry at $minute UTC (aurora)"
inside timeout 20 systemctl restart ledd.service || fail "systemctl restart ledd"
ok=no
for _ in $(seq 1 30); do
  [ "$(animation || true)" = aurora ] && { ok=yes; break; }
  sleep 0.5
done
[ $ok = yes ] || fail "schedd did not put aurora back after ledd restarted: $(jsched --since "@$since" | tail -5)"
ok "after restarting ledd, schedd put the scheduled state back"
# ------------------------------------------------------------------- mqttd
step "mqttd under its unit (the packaged config; no broker listens)"
grep -q "^tinsel-mqtt:x:[1-9][0-9]*:$tinsel_gid:" "$root/etc/passwd" || fail "no user tinsel-mqtt in group tinsel"
[ "$(stat -c '%a %u' "$root/etc/tinsel/mqtt.password")" = "600 0" ] || fail "mqtt.password is not 0600 root"
# The container has no /etc/hosts: the broker by address.
inside sh -c 'sed "s/^host = \"localhost\"/host = \"127.0.0.1\"/" /usr/share/tinsel/mqttd.toml > /etc/tinsel/mqttd.toml'
inside timeout 20 systemctl start mqttd.service || { inside systemctl status mqttd.service --no-pager >&2 || true; fail "mqttd did not start"; }
jmqttd() { inside journalctl -u mqttd.service -o cat --no-pager "$@"; }
ok=no
for _ in $(seq 1 40); do
  jmqttd | grep -q 'nothing listens on 127.0.0.1:1883' && { ok=yes; break; }
  sleep 0.25
done
[ $ok = yes ] || { jmqttd >&2; fail "mqttd did not say that no broker listens"; }
mpid=$(main_pid mqttd.service)
mst=$(status_of "$mpid")
[ "$(awk '$1 == "Uid:" {print $2}' <<<"$mst")" = "$(inside id -u tinsel-mqtt)" ] || fail "mqttd does not run as tinsel-mqtt"
for c in CapInh CapPrm CapEff CapBnd CapAmb; do
  [ "$(field "$mst" "$c")" = 0000000000000000 ] || fail "mqttd $c = $(field "$mst" "$c")"
done
[ "$(field "$mst" NoNewPrivs)" = 1 ] && [ "$(field "$mst" Seccomp)" = 2 ] || fail "mqttd NoNewPrivs/Seccomp: $(field "$mst" NoNewPrivs)/$(field "$mst" Seccomp)"
mlog=$(jmqttd _PID="$mpid")
for s in ensure_single_threaded close_inherited_fds drop_privileges clear_capabilities set_no_new_privs landlock seccomp; do
  grep -q "sandbox: $s: " <<<"$mlog" || { echo "$mlog" >&2; fail "mqttd: no line for sandbox step $s"; }
done
grep -q 'connected to ledd' <<<"$mlog" || { echo "$mlog" >&2; fail "mqttd did not reach ledd"; }
sleep 2
[ "$(inside systemctl is-active mqttd.service || true)" = active ] || fail "mqttd stopped while the broker is away"
ok "mqttd as tinsel-mqtt, no capabilities, NoNewPrivs 1, Seccomp 2, seven sandbox steps, ledd reached, waiting for the broker"
check=$(inside mqttd --check-config /etc/tinsel/mqttd.toml 2>&1) || { echo "$check" >&2; fail "mqttd --check-config"; }
grep -q 'as user tinsel-mqtt: role hooks' <<<"$check" || { echo "$check" >&2; fail "mqttd --check-config: ledd does not give tinsel-mqtt the hooks role"; }
ok "mqttd --check-config as root: ledd gives tinsel-mqtt the hooks role"

# ------------------------------------------------------------------- overall
step "ledd's watchdog pings arrive (sd_notify after hardening)"
# systemd restamps WatchdogTimestamp on each WATCHDOG=1 (and once at start).
wd0=$(inside systemctl show -P WatchdogTimestampMonotonic ledd.service)
wd=$wd0
for _ in $(seq 1 24); do   # ledd pings every WatchdogSec/2 = 5 s
  sleep 0.5
  wd=$(inside systemctl show -P WatchdogTimestampMonotonic ledd.service)
  [ "$wd" != "$wd0" ] && break
done
[ "$wd" != "$wd0" ] || fail "no WATCHDOG=1 from ledd within 12 s"
ok "WATCHDOG=1 received from the unprivileged, hardened ledd"

step "no crashes"
for u in ledd.service webd.service schedd.service mqttd.service; do
  [ "$(inside systemctl show -P NRestarts "$u")" = 0 ] || fail "$u restarted by itself (NRestarts $(inside systemctl show -P NRestarts "$u"))"
done
! inside journalctl --no-pager -o cat | grep -E 'status=31/SYS|code=killed.*SYS' || fail "a process was killed by seccomp"
ok "no automatic restarts, no SIGSYS"
step "passed in $((SECONDS - t0))s"
