#!/bin/bash
# Instructions per frame of ledd's frame pipeline (render + output stage +
# sim strip write), counted with callgrind: each animation runs for N and 2N
# frames and the difference divided by N is the per-frame cost (start-up and
# exit cancel out). Target: <= 20 000 instructions per frame at 150 LEDs
# (x86_64 here; .ci/arm-frame-cost counts ARMv6 instructions under qemu).
#
# Usage: ledd/bench/frame-cost.sh [led counts...]      (default: 150 300)
# Env:   FRAMES=N (default 200), ANIMATIONS="fire rainbow ..." (default: every
#        animation `ledctl list` names, from ledd/bench/animation-names),
#        CARGO_TARGET_DIR as usual.
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${FRAMES:-200}
LEDS=("$@"); [ ${#LEDS[@]} -gt 0 ] || LEDS=(150 300)
command -v valgrind >/dev/null || { echo "frame-cost: valgrind is not installed" >&2; exit 2; }
ANIMS=${ANIMATIONS:-$(ledd/bench/animation-names | tr '\n' ' ')}

cargo build --release -q -p ledd --example frame_cost
EX=${CARGO_TARGET_DIR:-target}/release/examples/frame_cost

count() {  # count LEDS FRAMES ANIMATION -> instructions executed
  local out; out=$(mktemp)
  valgrind --tool=callgrind --callgrind-out-file="$out" "$EX" --leds "$1" --frames "$2" --animation "$3" >/dev/null 2>&1
  awk '/^summary:/ { print $2 }' "$out"
  rm -f "$out"
}

printf '%-14s' animation; for l in "${LEDS[@]}"; do printf '%12s' "$l LEDs"; done; echo
declare -A worst
for a in $ANIMS; do
  printf '%-14s' "$a"
  for l in "${LEDS[@]}"; do
    one=$(count "$l" "$N" "$a"); two=$(count "$l" $((2 * N)) "$a")
    per=$(( (two - one) / N ))
    printf '%12d' "$per"
    if [ "$per" -gt "${worst[$l]:-0}" ]; then worst[$l]=$per; fi
  done
  echo
done
printf '%-14s' worst; for l in "${LEDS[@]}"; do printf '%12d' "${worst[$l]}"; done; echo
echo "(instructions per frame; target <= 20000 at 150 LEDs)"
