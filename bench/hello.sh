#!/usr/bin/env bash
# Throughput of "Hello, world" side by side, with wrk on loopback:
#
#   native     the same handler as a plain Go net/http server (bench/nativehello)
#   wazero     the net/http hello plugin on wazero
#   wazy       the net/http hello plugin on wazy
#   gw-wazero  the bare-gateway hello plugin (hellogw) on wazero
#   gw-wazy    the bare-gateway hello plugin on wazy
#   tornado    Tornado's hello world, one process (Debian python3-tornado)
#   before-wazero, before-wazy
#              the net/http hello built elsewhere (BEFORE_WASM=path/to/hello.wasm,
#              e.g. from a worktree of an older commit), to compare two SDKs
#              side by side in one run; not in the default set
#
#   bench/hello.sh [RUNS] [DURATION]      (defaults: 3 runs of 10s each)
#
# Every server runs for the whole script, one at a time under load: each run
# measures all of them in turn, so machine noise hits all alike. The report
# gives each one's median req/s, p99 latency, server CPU time per request
# and the ratio of its median req/s to native's. The CPU time is the
# server's own (from /proc): wrk shares the machine, so req/s also depends
# on how much CPU each server leaves wrk, and the CPU column separates the
# two. wasmhost runs with --log-level warn (no access log), as the
# other servers log nothing either. Environment: CONNS (32), THREADS (1),
# BASE_PORT (18880), ONLY (a space-separated subset of the names above),
# PYTHON (/usr/bin/python3, where Debian's python3-tornado is).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
DURATION=${2:-10s}
CONNS=${CONNS:-32}
THREADS=${THREADS:-1}
BASE_PORT=${BASE_PORT:-18880}
ONLY=${ONLY:-native wazero wazy gw-wazero gw-wazy tornado}
# Debian's python, which python3-tornado installs into (not a pyenv's).
PYTHON=${PYTHON:-/usr/bin/python3}

need() { # need COMMAND DEBIAN-PACKAGE
	command -v "$1" >/dev/null && return
	echo "$1 not found; installing it (Debian package $2)" >&2
	apt-get install -y "$2" >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y "$2" >/dev/null; }
}
need wrk wrk
if [[ " $ONLY " == *" tornado "* ]] && ! "$PYTHON" -c 'import tornado' 2>/dev/null; then
	echo "tornado not found; installing it (Debian package python3-tornado)" >&2
	apt-get install -y python3-tornado >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y python3-tornado >/dev/null; }
fi

make -s plugins
go build -o bin/nativehello ./bench/nativehello
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

# site PLUGIN ENGINE [WASM] → a site.hcl serving that plugin at / on that engine
site() {
	cat >"$work/$1-$2.hcl" <<HCL
server { engine = "$2" }
plugin "$1" {
  path      = "${3:-$PWD/plugins/examples/$1/$1.wasm}"
  instances = 16
}
HCL
	echo "$work/$1-$2.hcl"
}

declare -A port pid
n=0
for name in $ONLY; do
	p=$((BASE_PORT + n)); n=$((n + 1)); port[$name]=$p
	case $name in
	native) bin/nativehello --listen 127.0.0.1:$p & ;;
	wazero | wazy) bin/wasmhost run --log-level warn --listen 127.0.0.1:$p "$(site hello "$name")" & ;;
	gw-wazero | gw-wazy) bin/wasmhost run --log-level warn --listen 127.0.0.1:$p "$(site hellogw "${name#gw-}")" & ;;
	before-wazero | before-wazy)
		[[ -f ${BEFORE_WASM:-} ]] || { echo "$name needs BEFORE_WASM=path/to/hello.wasm" >&2; exit 2; }
		bin/wasmhost run --log-level warn --listen 127.0.0.1:$p "$(site before "${name#before-}" "$BEFORE_WASM")" & ;;
	tornado) "$PYTHON" - "$p" <<'PY' &
import sys
import tornado.ioloop
import tornado.web

class Hello(tornado.web.RequestHandler):
    def get(self):
        self.write("Hello, world\n")

tornado.web.Application([(r"/", Hello)]).listen(int(sys.argv[1]), address="127.0.0.1")
tornado.ioloop.IOLoop.current().start()
PY
		;;
	*) echo "unknown server $name" >&2; exit 2 ;;
	esac
	pid[$name]=$!
done
for name in $ONLY; do
	for _ in $(seq 300); do curl -sf "http://127.0.0.1:${port[$name]}/" >/dev/null && break; sleep 0.1; done
	curl -sf "http://127.0.0.1:${port[$name]}/" | grep -q "Hello, world" || { echo "$name does not answer" >&2; exit 1; }
done
# Warm every server (instances, connections, caches) before measuring.
for name in $ONLY; do wrk -t"$THREADS" -c"$CONNS" -d1s "http://127.0.0.1:${port[$name]}/" >/dev/null; done

# cputicks PID → the CPU time the process has used so far (all its
# threads, user and system), in clock ticks.
cputicks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
TICK=$(getconf CLK_TCK)

# measure PORT PID → "req/s p99_ms cpu_us": cpu_us is the server's own CPU
# time per request (from /proc, so wrk's share of the machine is not in it).
measure() {
	local before after
	before=$(cputicks "$2")
	wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency "http://127.0.0.1:$1/" >"$work/wrk.out"
	after=$(cputicks "$2")
	awk -v ticks=$((after - before)) -v hz="$TICK" '
		/requests in/ { n = $1 }
		/Requests\/sec/ { rps = $2 }
		$1 == "99%" { v = $2; ms = v + 0
			if (v ~ /us$/) ms = ms / 1000; else if (v ~ /ms$/) ms = ms; else if (v ~ /s$/) ms = ms * 1000
			p99 = ms }
		END { printf "%s %.3f %.1f\n", rps, p99, (n > 0 ? ticks / hz / n * 1e6 : 0) }' "$work/wrk.out"
}

for i in $(seq "$RUNS"); do
	line="run $i:"
	for name in $ONLY; do
		r=$(measure "${port[$name]}" "${pid[$name]}")
		echo "$r" >>"$work/$name.txt"
		line+="  $name ${r%% *}"
	done
	echo "$line   (req/s)"
done

median() { sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
echo
echo "hello, $RUNS alternating runs of $DURATION each, wrk -t$THREADS -c$CONNS, medians:"
ref=""
[[ " $ONLY " == *" native "* ]] && ref=$(cut -d' ' -f1 "$work/native.txt" | median)
for name in $ONLY; do
	r=$(cut -d' ' -f1 "$work/$name.txt" | median); p=$(cut -d' ' -f2 "$work/$name.txt" | median)
	c=$(cut -d' ' -f3 "$work/$name.txt" | median)
	if [[ -n $ref ]]; then
		awk -v n="$name" -v r="$r" -v p="$p" -v c="$c" -v ref="$ref" 'BEGIN { printf "  %-10s %10.0f req/s   p99 %7.2f ms   server CPU %6.1f us/req   %5.2fx native\n", n, r, p, c, r / ref }'
	else
		awk -v n="$name" -v r="$r" -v p="$p" -v c="$c" 'BEGIN { printf "  %-10s %10.0f req/s   p99 %7.2f ms   server CPU %6.1f us/req\n", n, r, p, c }'
	fi
done
