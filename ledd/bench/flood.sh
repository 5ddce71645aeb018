#!/bin/bash
# Late frames while a hostile client floods ledd's socket: starts ledd on a
# simulated strip of 150 LEDs at 60 fps on a temporary socket, plays an
# animation, runs ledd/examples/flood.rs against the socket for SECONDS
# (default 60), and prints ledd's frame statistics before and after.
#
# Usage: ledd/bench/flood.sh [SECONDS]       (CARGO_TARGET_DIR as usual)
set -euo pipefail
cd "$(dirname "$0")/../.."
SECS=${1:-60}
cargo build --release -q -p ledd --bins --example flood
T=${CARGO_TARGET_DIR:-target}/release
DIR=$(mktemp -d)
trap 'kill "$LEDD" 2>/dev/null || true; rm -rf "$DIR"' EXIT
SOCK=$DIR/ledd.sock
"$T/ledd" --socket "$SOCK" --leds 150 2>"$DIR/ledd.log" &
LEDD=$!
for _ in $(seq 50); do [ -S "$SOCK" ] && break; sleep 0.1; done
"$T/ledctl" --socket "$SOCK" play rainbow-cycle
sleep 1
before=$("$T/ledctl" --socket "$SOCK" status --json)
echo "before: $before"
"$T/examples/flood" "$SOCK" "$SECS" 4
sleep 0.5
after=$("$T/ledctl" --socket "$SOCK" status --json)
echo "after:  $after"
python3 - "$before" "$after" "$SECS" <<'PY'
import json, sys
b, a, secs = json.loads(sys.argv[1])["stats"], json.loads(sys.argv[2])["stats"], sys.argv[3]
frames = a["frames"] - b["frames"]
late = a["late_frames"] - b["late_frames"]
print(f"flood of {secs} s: {frames} frames, {late} late (>1/10 period), "
      f"worst lateness {a['worst_late_us']} us, p99 {a['p99_late_us']} us, fps {a['fps']}")
PY
grep -c "connection refused" "$DIR/ledd.log" | sed 's/^/ledd log lines about refused connections (rate-limited): /' || true
