#!/usr/bin/env bash
# Throughput of the hello plugin through wasmhost against the same handler
# as a native net/http server, measured side by side with wrk on loopback.
#
#   bench/hello.sh [RUNS] [DURATION]      (defaults: 5 runs of 10s each)
#
# Runs alternate between the two servers so that machine noise hits both
# alike; the report gives the median req/s and p99 latency of each, and the
# ratio of the medians. wasmhost runs with --log-level warn (no access log),
# as the native server logs nothing either.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-5}
DURATION=${2:-10s}
CONNS=${CONNS:-32}
THREADS=${THREADS:-2}
WASM_PORT=${WASM_PORT:-18881}
NATIVE_PORT=${NATIVE_PORT:-18882}

if ! command -v wrk >/dev/null; then
	echo "wrk not found; installing it (Debian package wrk)" >&2
	apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
fi

make -s plugins
go build -o bin/nativehello ./bench/nativehello
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
cat >"$work/site.hcl" <<HCL
plugin "hello" {
  path      = "$PWD/plugins/examples/hello/hello.wasm"
  instances = 16
}
HCL

bin/wasmhost run --log-level warn --listen 127.0.0.1:$WASM_PORT "$work/site.hcl" &
bin/nativehello --listen 127.0.0.1:$NATIVE_PORT &
for port in $WASM_PORT $NATIVE_PORT; do
	for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/" >/dev/null && break; sleep 0.1; done
done
# Warm both (instances, connections, caches) before measuring.
wrk -t"$THREADS" -c"$CONNS" -d2s "http://127.0.0.1:$WASM_PORT/" >/dev/null
wrk -t"$THREADS" -c"$CONNS" -d2s "http://127.0.0.1:$NATIVE_PORT/" >/dev/null

# measure PORT → "req/s p99_ms"
measure() {
	wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency "http://127.0.0.1:$1/" | awk '
		/Requests\/sec/ { rps = $2 }
		$1 == "99%" { v = $2; ms = v + 0
			if (v ~ /us$/) ms = ms / 1000; else if (v ~ /ms$/) ms = ms; else if (v ~ /s$/) ms = ms * 1000
			p99 = ms }
		END { printf "%s %.3f\n", rps, p99 }'
}

: >"$work/wasm"; : >"$work/native"
for i in $(seq "$RUNS"); do
	w=$(measure $WASM_PORT); n=$(measure $NATIVE_PORT)
	echo "run $i: wasmhost $w   native $n   (req/s p99ms)"
	echo "$w" >>"$work/wasm"; echo "$n" >>"$work/native"
done

median() { sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
wr=$(cut -d' ' -f1 "$work/wasm" | median); wp=$(cut -d' ' -f2 "$work/wasm" | median)
nr=$(cut -d' ' -f1 "$work/native" | median); np=$(cut -d' ' -f2 "$work/native" | median)
echo
echo "hello, $RUNS runs of $DURATION, wrk -t$THREADS -c$CONNS, medians:"
printf "  wasmhost  %10.0f req/s   p99 %7.2f ms\n" "$wr" "$wp"
printf "  native    %10.0f req/s   p99 %7.2f ms\n" "$nr" "$np"
awk -v a="$wr" -v b="$nr" 'BEGIN { printf "  ratio     %10.2f x native\n", a / b }'
