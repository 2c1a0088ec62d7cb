#!/usr/bin/env bash
# Live capture on a veth pair (issue 7): tcpreplay sends an IMIX capture into one end, inside
# network namespaces this script creates and removes; on the other end nothing, tcpdump, or
# `c2tap run` with 1 and 2 workers captures it.
#
# Reports, per capturer: the sender's rate at --topspeed and how much the capturer slowed it
# (the sender, not the capturer, is the bottleneck on a veth), then for fixed --pps steps the
# packets lost (sent - captured; for tcpdump also its "dropped by kernel") and the highest step
# with zero loss. c2tap runs also check that every IOC flow was alerted exactly once.
#
# usage: bench/live.sh [--quick]     (root; --quick: fewer packets and steps, 1 run)
# environment: PACKETS=500000 FLOWS=50000 IOC_FLOWS=10 RUNS=3 STEPS="100000 200000 300000 400000"
#              BUFFER_MIB=64   capture buffer of both tcpdump and c2tap
#              C2TAP=... PCAPGEN=...  binaries to use instead of building target/release ones
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"

PACKETS=${PACKETS:-500000}
FLOWS=${FLOWS:-50000}
IOC_FLOWS=${IOC_FLOWS:-10}
RUNS=${RUNS:-3}
STEPS=${STEPS:-100000 200000 300000 400000}
BUFFER_MIB=${BUFFER_MIB:-64}
if [[ ${1:-} == --quick ]]; then
    PACKETS=100000 FLOWS=10000 RUNS=1 STEPS="200000"
fi
[[ $(id -u) == 0 ]] || die "needs root (network namespaces)"
for tool in ip tcpreplay tcpdump; do command -v $tool >/dev/null || die "$tool not installed"; done

build_release "$root"
DATA=${DATA:-$root/target/bench-data}
mkdir -p "$DATA"
traffic=$DATA/live-imix-$PACKETS-$FLOWS-$IOC_FLOWS.pcap
generate imix "$PACKETS" "$FLOWS" "$IOC_FLOWS" "$traffic"
expected=$(cat "$traffic.expected")

tag=$$
tx=c2tb-tx$tag rx=c2tb-rx$tag tx_if=c2btx$tag rx_if=c2brx$tag
work=$(mktemp -d)
cleanup() {
    [[ -n ${cap_pid:-} ]] && kill "$cap_pid" 2>/dev/null && wait "$cap_pid" 2>/dev/null
    ip netns del "$tx" 2>/dev/null || true
    ip netns del "$rx" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
ip netns add "$tx"
ip netns add "$rx"
for ns in "$tx" "$rx"; do
    # No IPv6: router solicitations and MLD would add packets nobody sent.
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
done
ip link add "$tx_if" netns "$tx" type veth peer name "$rx_if" netns "$rx"
ip -n "$tx" link set "$tx_if" up
ip -n "$rx" link set "$rx_if" up

# start_capturer none|tcpdump|c2tap-N: sets cap_pid (empty for none) once capturing
start_capturer() {
    cap_pid=
    case $1 in
    none) ;;
    tcpdump)
        ip netns exec "$rx" tcpdump -i "$rx_if" -B $((BUFFER_MIB * 1024)) -w /dev/null \
            2>"$work/cap.err" &
        cap_pid=$!
        wait_for "$work/cap.err" "listening on"
        ;;
    c2tap-*)
        local workers=${1#c2tap-}
        rm -f "$work/records.json"
        cat >"$work/c2tap.toml" <<EOF
[capture]
interfaces = ["$rx_if"]
workers = $workers
buffer_size = "${BUFFER_MIB}MiB"
timeout = "20ms"
[iocs]
feeds = ["builtin"]
watch_interval = "0"
[outputs]
urls = ["file://$work/records.json?format=json"]
[outputs.options]
aggregate_window = "0s"
[metrics]
listen = ""
[health]
interval = "0"
EOF
        RUST_LOG=info ip netns exec "$rx" "$C2TAP" run --config "$work/c2tap.toml" \
            >/dev/null 2>"$work/cap.err" &
        cap_pid=$!
        wait_for "$work/cap.err" "capture started"
        ;;
    esac
}

wait_for() {
    for _ in $(seq 200); do
        grep -q "$2" "$1" 2>/dev/null && return
        sleep 0.05
    done
    die "capturer never said '$2': $(cat "$1")"
}

# stop_capturer KIND: sets CAPTURED and KDROP (kernel drops as the capturer reports them, or -)
stop_capturer() {
    CAPTURED=- KDROP=- ALERTS=-
    [[ -z $cap_pid ]] && return
    sleep 0.7 # let the last frames leave the ring
    kill -INT "$cap_pid"
    wait "$cap_pid" || true
    cap_pid=
    case $1 in
    tcpdump)
        CAPTURED=$(sed -n 's/^\([0-9]*\) packets captured.*/\1/p' "$work/cap.err")
        KDROP=$(sed -n 's/^\([0-9]*\) packets dropped by kernel.*/\1/p' "$work/cap.err")
        ;;
    c2tap-*)
        CAPTURED=$(grep 'worker finished' "$work/cap.err" | sed -n 's/.*packets=\([0-9]*\).*/\1/p' |
            awk '{ s += $1 } END { print s + 0 }')
        ALERTS=$(grep -c -E '"signature_id": ?100[12]' "$work/records.json" 2>/dev/null || true)
        ;;
    esac
}

# send ARGS...: sets SENT and PPS from tcpreplay's report
send() {
    ip netns exec "$tx" tcpreplay -i "$tx_if" "$@" "$traffic" >"$work/send.out" 2>&1 ||
        die "tcpreplay: $(cat "$work/send.out")"
    SENT=$(sed -n 's/.*Actual: \([0-9]*\) packets.*/\1/p' "$work/send.out")
    PPS=$(sed -n 's/.*Rated: .* \([0-9.]*\) pps.*/\1/p' "$work/send.out")
}

capturers="none tcpdump c2tap-1 c2tap-2"
echo "# live: $PACKETS IMIX packets ($FLOWS flows, $expected IOC flows) over a veth pair," \
    "capture buffer ${BUFFER_MIB} MiB, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs," \
    "load $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "## tcpreplay --topspeed: sender rate (median of $RUNS) and slowdown vs no capturer"
printf '%-9s %12s %9s %10s %10s %8s\n' capturer "sender pps" slowdown captured lost alerts
declare -A rate
for ((i = 0; i < RUNS; i++)); do
    for c in $capturers; do
        start_capturer "$c"
        send --topspeed
        stop_capturer "$c"
        rate[$c]="${rate[$c]:-} $PPS"
        echo "$c $PPS $SENT $CAPTURED $KDROP $ALERTS" >>"$work/topspeed.log"
    done
done
base=$(median ${rate[none]})
for c in $capturers; do
    pps=$(median ${rate[$c]})
    read -r _ _ sent captured _ alerts < <(grep "^$c " "$work/topspeed.log" | tail -1)
    lost=-
    [[ $captured != - ]] && lost=$((sent - captured))
    printf '%-9s %12.0f %8s%% %10s %10s %8s\n' "$c" "$pps" \
        "$(awk -v a="$pps" -v b="$base" 'BEGIN { printf "%.1f", (1 - a / b) * 100 }')" \
        "$captured" "$lost" "$alerts"
done

echo
echo "## fixed rates (tcpreplay --pps): packets lost = sent - captured, % of sent (tcpdump: its kernel drop count)"
printf '%-9s' capturer
for s in $STEPS; do printf ' %16s' "$s pps"; done
printf ' %14s\n' "max 0-loss"
for c in tcpdump c2tap-1 c2tap-2; do
    printf '%-9s' "$c"
    best=0
    for s in $STEPS; do
        start_capturer "$c"
        send --pps="$s"
        stop_capturer "$c"
        lost=$((SENT - CAPTURED))
        cell="$lost=$(ratio "$((lost * 100))" "$SENT" 1)%"
        [[ $KDROP != - ]] && cell="$cell ($KDROP)"
        [[ $ALERTS != - && $lost == 0 && $ALERTS != "$expected" ]] && cell="$cell !alerts=$ALERTS"
        printf ' %16s' "$cell"
        [[ $lost == 0 ]] && ((s > best)) && best=$s
    done
    printf ' %14s\n' "$best"
done
echo "# alerts: c2tap runs without loss must report exactly $expected IOC flows ('!alerts' marks a miss)"
