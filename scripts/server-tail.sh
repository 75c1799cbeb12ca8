#!/usr/bin/env bash
# What sets the server's ack latency below saturation: `perpx serve` with its journal (fsync on)
# and without (`volatile = true`), alternated, under the same `perpx bench` load; then the
# journal-like fdatasync probe (scripts/io-stalls.py) alone and beside the journal-less server
# under that load. docs/PERFORMANCE.md, "Session 14: the tail is the disk".
#
#     scripts/server-tail.sh [RATE [ROUNDS]]     # default 30000 orders/s, 2 rounds; about 2 minutes
#
# Uses target/release/perpx (build it first: cargo build --release) as the server and as the
# load tool; PERPX_SERVER and PERPX_CLIENT name other binaries for either (to compare builds
# under one client: docs/PERFORMANCE.md, "Session 15"). Each server gets a fresh
# data directory, the rate limits lifted, history off and a 65,536-command queue, as the
# server-under-load sections of PERFORMANCE.md; the bench is 4 WebSocket clients for 10 s, acks
# only. Needs /usr/bin/time (the bench's CPU) and python3. Not run in CI.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/admin-key.sh
rate=${1:-30000}
rounds=${2:-2}
bin=${PERPX_SERVER:-target/release/perpx}
client=${PERPX_CLIENT:-target/release/perpx}
for b in "$bin" "$client"; do [ -x "$b" ] || { echo "build first: cargo build --release ($b)" >&2; exit 2; }; done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
port=18097

config() {
    printf 'rate_limit_per_ip = 100000000\nrate_limit_per_key = 100000000\nhistory = false\nqueue_capacity = 65536\n'
    [ "$1" = volatile ] && echo 'volatile = true'
    return 0
}

steal() { awk '/^cpu / {print $9}' /proc/stat; }

# serve MODE [probe]: one server, one bench run; with `probe`, io-stalls.py runs beside it.
serve() {
    local mode=$1 data="$work/data-$1-$RANDOM"
    mkdir -p "$data"
    config "$mode" > "$data/perpx.toml"
    "$bin" serve --data-dir "$data" --config "$data/perpx.toml" --listen "127.0.0.1:$port" > "$data/serve.log" 2>&1 &
    local server=$!
    local key secret
    read_admin_key "$data/serve.log" 100
    local s0 probe=""
    s0=$(steal)
    if [ "${2:-}" = probe ]; then
        (sleep 1.5; python3 scripts/io-stalls.py --dir "$work" --seconds 7 > "$work/probe.out") &
        probe=$!
    fi
    /usr/bin/time -f "%U %S" -o "$data/bench.cpu" "$client" bench --url "http://127.0.0.1:$port" --admin-key "$key" --admin-secret "$secret" \
        --transport ws --clients 4 --rate "$rate" --seconds 10 --no-notices > "$data/bench.out" 2>&1
    [ -n "$probe" ] && wait "$probe"
    local stolen=$(( $(steal) - s0 ))
    curl -s "http://127.0.0.1:$port/metrics" > "$data/metrics.txt"
    # CPU seconds of the server's engine thread and gateway (tokio) threads (of which in user
    # space), and of the bench.
    local cpu
    cpu=$(for t in /proc/"$server"/task/*; do echo "$(cat "$t/comm") $(awk '{print $14, $15}' "$t/stat")"; done |
        awk -v hz="$(getconf CLK_TCK)" '{u[$1] += $2; k[$1] += $3}
            END {printf "engine %.2f s (user %.2f), gateway %.2f s (user %.2f)",
                (u["perpx-engine"] + k["perpx-engine"]) / hz, u["perpx-engine"] / hz,
                (u["tokio-rt-worker"] + k["tokio-rt-worker"]) / hz, u["tokio-rt-worker"] / hz}')
    cpu="$cpu, bench $(awk '{printf "%.2f s", $1 + $2}' "$data/bench.cpu")"
    kill "$server"; wait "$server" 2>/dev/null || true
    python3 - "$mode" "$data/bench.out" "$data/metrics.txt" "$stolen" "$cpu" <<'EOF'
import json, re, sys, os
mode, bench, metrics, stolen, cpu = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
text = open(bench).read()
r = json.loads(text[text.index("{"):])
lat = r["ack_latency_us"]
m = dict(re.findall(r"^(perpx_journal_sync\w*) (\d+)", open(metrics).read(), re.M))
syncs = int(m.get("perpx_journal_syncs_total", 0))
sync = f"{syncs} fsyncs, mean {int(m['perpx_journal_sync_us_sum']) / syncs:.0f} us, max {int(m['perpx_journal_sync_us_max']) / 1e3:.1f} ms" if mode == "journaled" else "no fsync"
print(f"{mode:9} acked {r['acked_rate']}/s  ack p50 {lat['p50'] / 1e3:.2f} ms  p99 {lat['p99'] / 1e3:.1f} ms  "
      f"p99.9 {lat['p999'] / 1e3:.1f} ms  max {lat['max'] / 1e3:.1f} ms  {sync}  stolen {stolen / os.sysconf('SC_CLK_TCK'):.2f} s\n"
      f"          CPU: {cpu}")
EOF
}

echo "date: $(date -u '+%F %H:%M UTC'); $(nproc) CPUs; load: $(cut -d' ' -f1-3 /proc/loadavg); rate $rate orders/s"
for _ in $(seq "$rounds"); do
    serve journaled
    serve volatile
done
echo
echo "+ the fdatasync probe alone"
python3 scripts/io-stalls.py --dir "$work" --seconds 7
echo
echo "+ the fdatasync probe beside the journal-less server under the same load"
serve volatile probe
cat "$work/probe.out"
