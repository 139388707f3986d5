#!/usr/bin/env bash
# CPU-bound guest work on each engine against the same Go code run natively:
#
#   sha   N rounds of SHA-256 over 4 KiB (default 2000), as plugins/testplugins/cpu
#   md    a goldmark render of a ~300 KB markdown document
#
#   bench/compute.sh [REPS] [SHA_ROUNDS]     (defaults: 5 requests each, 2000 rounds)
#
# The work is in bench/compute/work, a module of its own (goldmark stays out
# of wasmhost's dependencies); its plugin runs it under wasmhost on wazero and
# on wazy, its native command runs it directly. Each request is timed by
# curl; the report gives each one's median wall time and its ratio to native.
set -euo pipefail
cd "$(dirname "$0")/.."
REPS=${1:-5}
ROUNDS=${2:-2000}
PORT=${PORT:-18890}

make -s build
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
(cd bench/compute && GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o "$work/compute.wasm" ./plugin &&
	go build -o "$work/native" ./native)
cat >"$work/site.hcl" <<HCL
plugin "wazero" {
  path      = "$work/compute.wasm"
  mount     = "/wazero"
  engine    = "wazero"
  instances = 1
  timeout   = "300s"
}
plugin "wazy" {
  path      = "$work/compute.wasm"
  mount     = "/wazy"
  engine    = "wazy"
  instances = 1
  timeout   = "300s"
}
HCL
bin/wasmhost run --log-level warn --listen 127.0.0.1:$PORT "$work/site.hcl" &
for _ in $(seq 600); do curl -sf "http://127.0.0.1:$PORT/wazy/sha?n=1" >/dev/null && break; sleep 0.1; done

median() { sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
# guest ENGINE PATH → median ms over REPS requests (after one warm-up)
guest() {
	curl -sf "http://127.0.0.1:$PORT/$1$2" >/dev/null
	for _ in $(seq "$REPS"); do
		curl -sf -o /dev/null -w '%{time_total}\n' "http://127.0.0.1:$PORT/$1$2"
	done | awk '{ print $1 * 1000 }' | median
}

echo "compute, median of $REPS requests each (wall time per request):"
for op in sha md; do
	path="/$op"; args=(-op "$op" -reps "$REPS")
	[[ $op == sha ]] && path="/sha?n=$ROUNDS" && args+=(-n "$ROUNDS")
	native=$("$work/native" "${args[@]}" | cut -d' ' -f2)
	label=$op; [[ $op == sha ]] && label="sha256 x$ROUNDS"
	printf "  %-14s native %9.1f ms\n" "$label" "$native"
	for engine in wazero wazy; do
		ms=$(guest "$engine" "$path")
		awk -v l="$label" -v e="$engine" -v ms="$ms" -v n="$native" 'BEGIN { printf "  %-14s %-6s %9.1f ms   %6.1fx native time\n", l, e, ms, ms / n }'
	done
done
