#!/usr/bin/env bash
# Instructions per order on the server's gateway threads and on its engine thread, counted by
# callgrind: stable where the CPU time of a loaded server on this VM is not
# (docs/PERFORMANCE.md, "Session 15: the gateway's instructions per order").
#
#     scripts/gateway-instructions.sh [BINARY]     # default target/release/perpx; about a minute
#
# Runs `perpx serve` (journal off: `volatile = true`, history off, rate limits lifted) under
# callgrind twice, with `perpx bench` (4 WebSocket clients, acks only) at 400 and then 1,200
# orders/s for 10 s, and divides the difference in instructions by the difference in orders
# (8,000): what start-up and idle polling cost cancels out. The rates are low so that the
# server under valgrind keeps up; a message then mostly travels alone, so these are the
# per-order costs without the batching a loaded server gets. Needs valgrind. Not run in CI.
#
# With KEEP=DIR the runs' callgrind files (one a thread, `cg.PID-THREAD`) are kept in DIR, to
# see where the instructions go, e.g. for the 1,200/s run's gateway threads:
#     callgrind_annotate --inclusive=yes DIR/data-1200/cg.*-02 DIR/data-1200/cg.*-03
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/admin-key.sh
bin=${1:-target/release/perpx}
[ -x "$bin" ] || { echo "build first: cargo build --release" >&2; exit 2; }
command -v valgrind > /dev/null || { echo "needs valgrind" >&2; exit 2; }
if [ -n "${KEEP:-}" ]; then
    mkdir -p "$KEEP"
    work=$(cd "$KEEP" && pwd)
else
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
fi
port=18096

# run RATE: prints "orders gateway_instructions engine_instructions".
run() {
    local data="$work/data-$1"
    mkdir -p "$data"
    printf 'rate_limit_per_ip = 100000000\nrate_limit_per_key = 100000000\nhistory = false\nqueue_capacity = 65536\nvolatile = true\n' \
        > "$data/perpx.toml"
    valgrind --tool=callgrind --separate-threads=yes --callgrind-out-file="$data/cg.%p" \
        "$bin" serve --data-dir "$data" --config "$data/perpx.toml" --listen "127.0.0.1:$port" > "$data/serve.log" 2>&1 &
    local server=$!
    local key secret
    read_admin_key "$data/serve.log" 600
    sleep 2
    "$bin" bench --url "http://127.0.0.1:$port" --admin-key "$key" --admin-secret "$secret" \
        --transport ws --clients 4 --rate "$1" --seconds 10 --no-notices > "$data/bench.out" 2>&1
    kill -INT "$server"
    wait "$server" 2>/dev/null || true
    python3 - "$data" <<'PY'
import glob, json, sys
data = sys.argv[1]
text = open(f"{data}/bench.out").read()
answered = json.loads(text[text.index("{"):])["answered"]
gateway = engine = 0
for f in glob.glob(f"{data}/cg.*-*"):
    body = open(f).read()
    total = int(next(l for l in body.splitlines() if l.startswith("summary:")).split()[1])
    if "sequencer::run" in body:
        engine += total
    elif "multi_thread::worker" in body:
        gateway += total
print(answered, gateway, engine)
PY
}

echo "date: $(date -u '+%F %H:%M UTC'); binary $bin"
read -r n1 g1 e1 < <(run 400)
read -r n2 g2 e2 < <(run 1200)
echo "400/s: $n1 orders answered, gateway $g1, engine thread $e1 instructions"
echo "1200/s: $n2 orders answered, gateway $g2, engine thread $e2 instructions"
python3 -c "
n = $n2 - $n1
print(f'per order (the difference over {n} orders): gateway {($g2 - $g1) / n:,.0f}, engine thread {($e2 - $e1) / n:,.0f} instructions')"
