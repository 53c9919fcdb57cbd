#!/usr/bin/env bash
# Load test of platform-gateway against nginx, on this machine, in one run.
#
# Drives the same fast upstream (bench-upstream) with the same wrk load:
#   direct        -> upstream
#   nginx         -> nginx (reverse proxy, upstream keepalive) -> upstream
#   gateway-bare  -> bench-gateway bare -> upstream
#   gateway-full  -> bench-gateway full (JWT auth, rate limit, breaker, RED metrics) -> upstream
#   gateway-bin   -> the shipped `gateway` binary (one route from a config file; its
#                    RED metrics and admin listener on, as shipped) -> upstream
# and prints requests/s, p50/p99 and the latency each proxy adds over direct, as a
# markdown table (median of ROUNDS interleaved rounds), and the CPU time each proxy
# spent per request (its processes' user + system time over the run / requests served),
# which says more than requests/s on a machine shared with the load generator.
# nginx is configured to set the same forwarding headers the gateway always sets.
#
# A second phase drives every path at one fixed request rate well below saturation
# (oha, RATE requests/s over RATE_WORKERS connections), where latency is the proxy's
# own added time rather than queueing for the CPU: its table gives p50/p99 and what each
# proxy adds over direct at that rate. A third phase does the same at a heavy rate,
# HEAVY_FRACTION (default 0.6) of nginx's saturated requests/s from the first phase
# (or HEAVY_RATE), over CONNECTIONS connections: latency under load, with every path
# carrying the same load.
#
# Usage: benches/gateway/run.sh            (from the repository root)
# Env:   DURATION (s, default 10), ROUNDS (default 3), CONNECTIONS (default 64),
#        WRK_THREADS (default 2), GATEWAY_WORKERS (default 2), NGINX_WORKERS (default 2),
#        UPSTREAM_THREADS (default 1), RATE (default 9600), RATE_WORKERS (default 32),
#        HEAVY_FRACTION (default 0.6) or HEAVY_RATE, BENCH_ACCEPT (`reuseport`, the
#        default: a socket per gateway worker; or `spread`: one shared socket,
#        connections taken by load), BENCH_YIELD_AFTER (e.g. 0s: the gateways run with
#        `[server] yield_after` set to it instead of its default),
#        CARGO_TARGET_DIR.
# Installs nginx and wrk with apt-get, and oha with `cargo install`, when missing.
# Traffic stays on 127.0.0.1 and every run is bounded by DURATION; the processes it
# starts are stopped on exit.
set -euo pipefail

DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-3}
CONNECTIONS=${CONNECTIONS:-64}
WRK_THREADS=${WRK_THREADS:-2}
GATEWAY_WORKERS=${GATEWAY_WORKERS:-2}
NGINX_WORKERS=${NGINX_WORKERS:-2}
UPSTREAM_THREADS=${UPSTREAM_THREADS:-1}
RATE=${RATE:-9600}
RATE_WORKERS=${RATE_WORKERS:-32}
HEAVY_FRACTION=${HEAVY_FRACTION:-0.6}
UPSTREAM_PORT=19101
NGINX_PORT=19102
BARE_PORT=19103
FULL_PORT=19104
BIN_PORT=19105
BIN_ADMIN_PORT=19106

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

need() { command -v "$1" >/dev/null 2>&1; }
if ! need wrk || ! need nginx; then
    echo "installing nginx and wrk (apt-get)" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq nginx wrk >/dev/null
fi
export PATH="$PATH:${CARGO_HOME:-$HOME/.cargo}/bin"
if ! need oha; then
    echo "installing oha (cargo install, a few minutes)" >&2
    cargo install -q --locked oha
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

echo "building bench-upstream, bench-gateway and gateway (release)" >&2
cargo build --release -q -p platform-benches --bin bench-upstream --bin bench-gateway \
    -p platform-examples --bin gateway
target=${CARGO_TARGET_DIR:-$root/target}/release

work=$(mktemp -d)
chmod 755 "$work"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

wait_port() {
    for _ in $(seq 1 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    echo "nothing listens on port $1" >&2
    return 1
}

"$target/bench-upstream" "127.0.0.1:$UPSTREAM_PORT" "$UPSTREAM_THREADS" 2>"$work/upstream.log" &
pids+=($!)
upstream_pid=$!

mkdir -p "$work/nginx/logs" "$work/nginx/tmp"
cat >"$work/nginx/nginx.conf" <<CONF
worker_processes $NGINX_WORKERS;
pid $work/nginx/nginx.pid;
error_log $work/nginx/logs/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $work/nginx/tmp/body;
    proxy_temp_path $work/nginx/tmp/proxy;
    fastcgi_temp_path $work/nginx/tmp/fastcgi;
    uwsgi_temp_path $work/nginx/tmp/uwsgi;
    scgi_temp_path $work/nginx/tmp/scgi;
    upstream backend {
        server 127.0.0.1:$UPSTREAM_PORT;
        keepalive 128;
    }
    server {
        listen 127.0.0.1:$NGINX_PORT;
        location / {
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            # What the gateway does to every request by default, for a like-for-like run.
            proxy_set_header Host \$host;
            proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto \$scheme;
            proxy_set_header X-Forwarded-Host \$host;
            proxy_set_header Forwarded "for=\$remote_addr;host=\$host;proto=\$scheme";
        }
    }
}
CONF
"$NGINX" -p "$work/nginx" -c "$work/nginx/nginx.conf" -g 'daemon off;' 2>"$work/nginx.log" &
pids+=($!)
nginx_pid=$!

"$target/bench-gateway" bare "127.0.0.1:$BARE_PORT" "127.0.0.1:$UPSTREAM_PORT" "$work/token" "$GATEWAY_WORKERS" 2>"$work/bare.log" &
pids+=($!)
bare_pid=$!
"$target/bench-gateway" full "127.0.0.1:$FULL_PORT" "127.0.0.1:$UPSTREAM_PORT" "$work/token" "$GATEWAY_WORKERS" 2>"$work/full.log" &
pids+=($!)
full_pid=$!
cat >"$work/gateway.toml" <<CONF
[listen]
address = "127.0.0.1:$BIN_PORT"
admin = "127.0.0.1:$BIN_ADMIN_PORT"

[server]
workers = $GATEWAY_WORKERS
$([ -n "${BENCH_YIELD_AFTER:-}" ] && echo "yield_after = \"$BENCH_YIELD_AFTER\"")

[upstreams.bench]
endpoints = ["127.0.0.1:$UPSTREAM_PORT"]

[[routes]]
id = "bench"
path_prefix = "/"
upstream = "bench"
CONF
RUST_LOG=warn "$target/gateway" --config "$work/gateway.toml" 2>"$work/bin.log" &
pids+=($!)
bin_pid=$!
for port in $UPSTREAM_PORT $NGINX_PORT $BARE_PORT $FULL_PORT $BIN_PORT; do wait_port "$port"; done
token=$(cat "$work/token")
nginx_pids="$nginx_pid $(pgrep -P "$nginx_pid" | tr '\n' ' ')"

# CPU time (clock ticks, user + system) used so far by the processes given.
ticks() {
    local total=0 pid
    for pid in "$@"; do
        total=$((total + $(awk '{ print $14 + $15 }' "/proc/$pid/stat")))
    done
    echo "$total"
}
hz=$(getconf CLK_TCK)

# One wrk run against PORT while measuring PIDS; prints "rps p50_ms p99_ms cpu_us_per_request".
load() {
    local port=$1 seconds=$2 pids=$3
    shift 3
    local before after
    before=$(ticks $pids)
    wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d"${seconds}s" --latency "$@" "http://127.0.0.1:$port/" >"$work/wrk.out"
    after=$(ticks $pids)
    awk -v cpu=$((after - before)) -v hz="$hz" '
        function ms(v) {
            if (v ~ /us$/) return substr(v, 1, length(v) - 2) / 1000;
            if (v ~ /ms$/) return substr(v, 1, length(v) - 2) + 0;
            if (v ~ /s$/) return substr(v, 1, length(v) - 1) * 1000;
            return v + 0;
        }
        /^ +50%/ { p50 = ms($2) }
        /^ +99%/ { p99 = ms($2) }
        /requests in/ { n = $1 }
        /^Requests\/sec:/ { rps = $2 }
        /Non-2xx or 3xx responses/ { bad = $5 }
        END {
            if (bad > 0) { print "non-2xx responses: " bad > "/dev/stderr" }
            printf "%s %s %s %.1f\n", rps, p50, p99, (n > 0 ? cpu / hz * 1e6 / n : 0)
        }' "$work/wrk.out"
}

declare -A ports=([direct]=$UPSTREAM_PORT [nginx]=$NGINX_PORT [gateway-bare]=$BARE_PORT [gateway-full]=$FULL_PORT [gateway-bin]=$BIN_PORT)
# Whose CPU time counts: the upstream for direct, the proxy otherwise.
declare -A measured=([direct]=$upstream_pid [nginx]=$nginx_pids [gateway-bare]=$bare_pid [gateway-full]=$full_pid [gateway-bin]=$bin_pid)
scenarios=(direct nginx gateway-bare gateway-full gateway-bin)
# The extra arguments of scenario $1 (the full stack needs the token), in `headers`.
headers_for() {
    headers=()
    if [ "$1" = gateway-full ]; then headers=(-H "Authorization: Bearer $token"); fi
}
saturating() { headers_for "$1"; load "${ports[$1]}" "$2" "${measured[$1]}" "${headers[@]}"; }

# ROUNDS interleaved rounds of `$1 SCENARIO DURATION` over every scenario: each result
# line is logged (prefixed with $2) and appended to the associative array named $3.
# Each round starts one scenario further along, so no path always runs right after the
# same other one (the heaviest leaves the machine busiest).
rounds() {
    local run=$1 label=$2 round s r i n=${#scenarios[@]}
    local -n into=$3
    for round in $(seq 1 "$ROUNDS"); do
        for ((i = 0; i < n; i++)); do
            s=${scenarios[$(((i + round - 1) % n))]}
            r=$("$run" "$s" "$DURATION")
            echo "${label}round $round $s: $r" >&2
            into[$s]+="$r"$'\n'
        done
    done
}

# Median of a column of numbers; `column LINES N`: the median of column N of LINES.
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
column() { printf '%s' "$1" | awk -v c="$2" 'NF { print $c }' | median; }
# `medians RESULTS OUT...`: for every scenario, the median of column i of its lines in
# the associative array named RESULTS goes into the associative array named by OUT i.
medians() {
    local -n from=$1
    shift
    local i=0 s
    while [ $# -gt 0 ]; do
        i=$((i + 1))
        local -n into=$1
        for s in "${scenarios[@]}"; do into[$s]=$(column "${from[$s]}" "$i"); done
        unset -n into
        shift
    done
}

for s in "${scenarios[@]}"; do
    saturating "$s" 2 >/dev/null # warm-up
done
declare -A results
rounds saturating "" results
declare -A rps p50 p99 cpu
medians results rps p50 p99 cpu

echo
echo "wrk -t$WRK_THREADS -c$CONNECTIONS -d${DURATION}s, median of $ROUNDS rounds; $(nproc) cores: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo
echo "| path | requests/s | p50 ms | p99 ms | added p50 ms | added p99 ms | CPU µs/request |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for s in "${scenarios[@]}"; do
    awk -v s="$s" -v r="${rps[$s]}" -v a="${p50[$s]}" -v b="${p99[$s]}" -v da="${p50[direct]}" -v db="${p99[direct]}" -v c="${cpu[$s]}" \
        'BEGIN { if (s == "direct") printf "| %s | %.0f | %.3f | %.3f | – | – | %.1f (upstream) |\n", s, r, a, b, c;
                 else printf "| %s | %.0f | %.3f | %.3f | %.3f | %.3f | %.1f |\n", s, r, a, b, a - da, b - db, c }'
done
echo
awk -v g="${rps[gateway-bare]}" -v n="${rps[nginx]}" -v f="${rps[gateway-full]}" \
    -v gp="${p99[gateway-bare]}" -v np="${p99[nginx]}" -v d="${p99[direct]}" \
    -v b="${rps[gateway-bin]}" -v bp="${p99[gateway-bin]}" 'BEGIN {
    printf "gateway throughput / nginx: %.2f (target >= 1.00)\n", g / n;
    printf "gateway binary throughput / nginx: %.2f; its added p99 %.3f ms\n", b / n, bp - d;
    printf "gateway added p99 %.3f ms vs nginx %.3f ms (target <=)\n", gp - d, np - d;
    printf "full stack / bare routing: %.2f (target >= 0.85)\n", f / g }'
awk -v g="${cpu[gateway-bare]}" -v n="${cpu[nginx]}" -v f="${cpu[gateway-full]}" -v b="${cpu[gateway-bin]}" 'BEGIN {
    printf "CPU per request: gateway bare / nginx %.2f; full / bare %.2f; binary / nginx %.2f\n", g / n, f / g, b / n }'
# The same ratios round by round (rounds are interleaved, so each pair ran minutes apart
# at most): their spread says how much of the median's distance from 1.00 is noise.
# `per_round A B LABEL`: A's requests/s over B's round by round — their range, and in
# how many rounds A was at or above B.
per_round() {
    paste <(printf '%s' "${results[$1]}") <(printf '%s' "${results[$2]}") | awk -v label="$3" 'NF {
        r = $1 / $5; rmin = (NR == 1 || r < rmin) ? r : rmin; rmax = (NR == 1 || r > rmax) ? r : rmax
        ahead += (r >= 1) }
        END { printf "per round: %s %.2f-%.2f (at or above 1.00 in %d of %d)\n", label, rmin, rmax, ahead, NR }'
}
per_round gateway-bare nginx "gateway / nginx"
per_round gateway-full gateway-bare "full / bare"
per_round gateway-bin nginx "gateway binary / nginx"

# Phases 2 and 3: the same paths at one fixed rate (oha: latency measured from when
# each request was due, so a stall counts for every request it delays; times to the
# microsecond). Every path then carries the same load, so their latencies compare at
# equal load — which the saturated phase cannot give: there each path runs at its own
# maximum, and a proxy that serves more requests per second loads the shared upstream
# and load generator more, so its latency is measured under more load.
# `fixed PORT SECONDS RATE CONNECTIONS [oha args]` prints "rps p50_ms p99_ms".
fixed() {
    local port=$1 seconds=$2 rate=$3 conns=$4
    shift 4
    oha -z "${seconds}s" -c "$conns" -q "$rate" --latency-correction --no-tui \
        --output-format json "$@" "http://127.0.0.1:$port/" >"$work/oha.json"
    # The request rate, the latency percentiles (seconds) and any status but 200, from
    # the JSON summary: flattened to one `"name": value` per line, objects in order.
    tr ',{}' '\n\n\n' <"$work/oha.json" | awk -F: '
        { gsub(/[" ]/, "", $1) }
        $1 == "requestsPerSec" { rps = $2 }
        $1 == "latencyPercentiles" { in_latency = 1; next }
        in_latency && $1 == "p50" { p50 = $2 * 1000 }
        in_latency && $1 == "p99" { p99 = $2 * 1000; in_latency = 0 }
        $1 ~ /^[0-9][0-9][0-9]$/ && $1 != "200" { bad += $2 }
        $1 == "successRate" && $2 < 1 { failed = $2 }
        END {
            if (bad > 0) { print "non-200 responses: " bad > "/dev/stderr" }
            if (failed != "") { print "requests failed; success rate " failed > "/dev/stderr" }
            printf "%.0f %.3f %.3f\n", rps, p50, p99 }'
}

# `fixed_phase LABEL RATE CONNECTIONS`: ROUNDS interleaved rounds at RATE over every
# path, then their table and the p99 target line.
fixed_phase() {
    local label=$1 rate=$2 conns=$3 s
    fixed_rate() { headers_for "$1"; fixed "${ports[$1]}" "$2" "$rate" "$conns" "${headers[@]}"; }
    local -A fixed_results=() frps=() fp50=() fp99=()
    rounds fixed_rate "$label " fixed_results
    medians fixed_results frps fp50 fp99
    echo
    echo "$label: oha -c$conns -q$rate --latency-correction -z${DURATION}s, median of $ROUNDS rounds"
    echo
    echo "| path | requests/s | p50 ms | p99 ms | added p50 ms | added p99 ms |"
    echo "|---|---:|---:|---:|---:|---:|"
    for s in "${scenarios[@]}"; do
        awk -v s="$s" -v r="${frps[$s]}" -v a="${fp50[$s]}" -v b="${fp99[$s]}" -v da="${fp50[direct]}" -v db="${fp99[direct]}" \
            'BEGIN { if (s == "direct") printf "| %s | %.0f | %.3f | %.3f | – | – |\n", s, r, a, b;
                     else printf "| %s | %.0f | %.3f | %.3f | %.3f | %.3f |\n", s, r, a, b, a - da, b - db }'
    done
    echo
    awk -v g="${fp99[gateway-bare]}" -v n="${fp99[nginx]}" -v d="${fp99[direct]}" -v b="${fp99[gateway-bin]}" -v r="$rate" 'BEGIN {
        printf "at %s requests/s: gateway added p99 %.3f ms vs nginx %.3f ms (target <=); binary %.3f ms\n", r, g - d, n - d, b - d }'
}

# Phase 2: light load, well below saturation, where latency is the proxy's own time.
fixed_phase "fixed rate" "$RATE" "$RATE_WORKERS"
# Phase 3: heavy load, HEAVY_FRACTION of nginx's saturated rate (CONNECTIONS connections).
heavy=${HEAVY_RATE:-$(awk -v r="${rps[nginx]}" -v f="$HEAVY_FRACTION" 'BEGIN { printf "%d", int(r * f / 1000) * 1000 }')}
fixed_phase "heavy fixed rate" "$heavy" "$CONNECTIONS"
