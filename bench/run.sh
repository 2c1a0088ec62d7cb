#!/usr/bin/env bash
# Replay throughput and memory, side by side with tcpdump (issue 7).
#
# Generates IMIX, all-64-byte and SYN-flood captures with c2tap-pcapgen, then runs, alternately
# and RUNS times each: tcpdump -r FILE -w /dev/null with the IOC host filter, c2tap replay with
# every flow tracked, and c2tap replay --alerts-only. Prints medians (wall and CPU), packets/s
# and the ratios to tcpdump, checks every c2tap run reported exactly the IOC flows the generator
# put in; then, with name IOCs loaded (issue 17), the same shapes plus DNS-heavy and TLS-heavy
# profiles against the same replays without them; and measures peak RSS on the SYN flood at the default flow bound and at 1,000,000.
#
# usage: bench/run.sh [--quick]
#   --quick            1/10 of the sizes, 3 runs (a smoke run, not figures)
# environment (defaults = issue 7's sizes):
#   RUNS=5 PACKETS=5000000 FLOWS=200000 SYN_PACKETS=2000000 IOC_FLOWS=10
#   NAME_PACKETS=2000000 NAME_FLOWS=200000 NAME_IOCS=10000   (DNS-/TLS-heavy profiles, name IOCs)
#   DATA=target/bench-data   where the captures are written (about 2.4 GB at full size)
#   C2TAP=... PCAPGEN=...    use these binaries instead of building target/release ones
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"

RUNS=${RUNS:-5}
PACKETS=${PACKETS:-5000000}
FLOWS=${FLOWS:-200000}
SYN_PACKETS=${SYN_PACKETS:-2000000}
IOC_FLOWS=${IOC_FLOWS:-10}
NAME_PACKETS=${NAME_PACKETS:-2000000}
NAME_FLOWS=${NAME_FLOWS:-200000}
NAME_IOCS=${NAME_IOCS:-10000}
if [[ ${1:-} == --quick ]]; then
    RUNS=3 PACKETS=$((PACKETS / 10)) FLOWS=$((FLOWS / 10)) SYN_PACKETS=$((SYN_PACKETS / 10))
    NAME_PACKETS=$((NAME_PACKETS / 10)) NAME_FLOWS=$((NAME_FLOWS / 10))
fi
DATA=${DATA:-$root/target/bench-data}
command -v tcpdump >/dev/null || die "tcpdump not installed"
[[ -x /usr/bin/time ]] || die "/usr/bin/time not installed (apt-get install time)"
mkdir -p "$DATA"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

build_release "$root"

declare -A file packets
for shape in imix small synflood; do
    n=$PACKETS f=$FLOWS
    [[ $shape == synflood ]] && n=$SYN_PACKETS f=$SYN_PACKETS
    file[$shape]=$DATA/$shape-$n-$f-$IOC_FLOWS.pcap
    packets[$shape]=$n
    generate "$shape" "$n" "$f" "$IOC_FLOWS" "${file[$shape]}"
done

echo "# c2tap replay vs tcpdump -r FILE -w /dev/null '$IOC_FILTER'"
echo "# $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs: $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)," \
    "load $(cut -d' ' -f1-3 /proc/loadavg), $RUNS runs each, alternating; times are medians"
printf '%-9s %9s | %-21s | %-30s | %-30s\n' shape packets "tcpdump wall/cpu s" \
    "c2tap full: wall/cpu s, Mpps, x" "alerts-only: wall/cpu s, Mpps, x"

failures=0
for shape in imix small synflood; do
    f=${file[$shape]}
    expected=$(cat "$f.expected")
    declare -a tw=() tc=() fw=() fc=() aw=() ac=()
    for ((i = 0; i < RUNS; i++)); do
        # Rotate the order so no tool always runs right after another on a warm cache.
        for tool in $(case $((i % 3)) in 0) echo td full alerts ;; 1) echo full alerts td ;; 2) echo alerts td full ;; esac); do
            case $tool in
            td)
                timed "$work/td" tcpdump -r "$f" -w /dev/null "$IOC_FILTER"
                tw+=("$WALL") tc+=("$CPU")
                ;;
            full | alerts)
                extra=()
                [[ $tool == alerts ]] && extra=(--alerts-only)
                timed "$work/$tool" "$C2TAP" replay --hostname bench "${extra[@]}" "$f"
                got=$(count_alerts "$work/$tool.out")
                if [[ $got != "$expected" ]]; then
                    echo "MISMATCH: $shape $tool: $got alerts, expected $expected" >&2
                    failures=$((failures + 1))
                fi
                if [[ $tool == full ]]; then fw+=("$WALL") fc+=("$CPU"); else aw+=("$WALL") ac+=("$CPU"); fi
                ;;
            esac
        done
    done
    t=$(median "${tw[@]}")
    full=$(median "${fw[@]}") alerts=$(median "${aw[@]}")
    n=${packets[$shape]}
    printf '%-9s %9d | %8.3f / %-10.2f | %6.3f / %-5.2f %5.2f %5.2fx | %6.3f / %-5.2f %5.2f %5.2fx\n' \
        "$shape" "$n" "$t" "$(median "${tc[@]}")" \
        "$full" "$(median "${fc[@]}")" "$(mpps "$n" "$full")" "$(ratio "$full" "$t")" \
        "$alerts" "$(median "${ac[@]}")" "$(mpps "$n" "$alerts")" "$(ratio "$alerts" "$t")"
done
echo "# alert counts: every c2tap run reported exactly the generator's IOC flows ($IOC_FLOWS each)" \
    "$([[ $failures == 0 ]] && echo yes || echo "NO: $failures mismatches")"

echo
echo "# name IOCs loaded (--iocs builtin --iocs NAMES: $NAME_IOCS domain IOCs): c2tap full, wall s medians"
names_file=$work/names.txt
{
    echo "rmc-c2.duckdns.org"
    for ((i = 1; i < NAME_IOCS; i++)); do echo "c2-$i.duckdns.org"; done
} >"$names_file"
# CEF name alerts (SignatureID 1010-1013) in a replay's stdout
count_name_alerts() {
    grep -c -E '^CEF:0\|([^|]*\|){3}101[0-3]\|' "$1" || true
}
printf '%-9s %9s | %-10s | %-22s | %-28s | %s\n' shape packets "tcpdump s" "c2tap+names s, Mpps, x" \
    "vs without names, wall" "packet loop with/without (issue: within 5 %)"
for shape in imix small synflood dns tls; do
    n=$PACKETS fl=$FLOWS
    [[ $shape == synflood ]] && n=$SYN_PACKETS fl=$SYN_PACKETS
    [[ $shape == dns || $shape == tls ]] && n=$NAME_PACKETS fl=$NAME_FLOWS
    f=$DATA/$shape-$n-$fl-$IOC_FLOWS.pcap
    generate "$shape" "$n" "$fl" "$IOC_FLOWS" "$f"
    expected=$(cat "$f.expected")
    declare -a tw=() nw=() bw=() nl=() bl=()
    for ((i = 0; i < RUNS; i++)); do
        timed "$work/td" tcpdump -r "$f" -w /dev/null "$IOC_FILTER"
        tw+=("$WALL")
        timed "$work/names" "$C2TAP" replay --hostname bench --iocs builtin --iocs "$names_file" "$f"
        nw+=("$WALL")
        nl+=("$(loop_secs "$work/names")")
        case $shape in
        dns | tls) got=$(count_name_alerts "$work/names.out") ;;
        *) got=$(count_alerts "$work/names.out") ;;
        esac
        if [[ $got != "$expected" ]]; then
            echo "MISMATCH: $shape with names: $got alerts, expected $expected" >&2
            failures=$((failures + 1))
        fi
        timed "$work/bare" "$C2TAP" replay --hostname bench "$f"
        bw+=("$WALL")
        bl+=("$(loop_secs "$work/bare")")
    done
    t=$(median "${tw[@]}") with=$(median "${nw[@]}") without=$(median "${bw[@]}")
    lw=$(median "${nl[@]}") lb=$(median "${bl[@]}")
    pct() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%+.1f", (a / b - 1) * 100 }'; }
    printf '%-9s %9d | %10.3f | %6.3f %5.2f %5.2fx | %s %% (%.3f s without)%*s | %.3f / %.3f s: %s %%\n' \
        "$shape" "$n" "$t" "$with" "$(mpps "$n" "$with")" "$(ratio "$with" "$t")" \
        "$(pct "$with" "$without")" "$without" 3 "" "$lw" "$lb" "$(pct "$lw" "$lb")"
done
echo "# dns/tls: $IOC_FLOWS flows look up / name rmc-c2.duckdns.org (1010 / 1012 each); the rest benign names"

echo
echo "# memory: SYN flood (${packets[synflood]} packets, one new flow each), peak RSS"
baseline_file=$DATA/baseline.pcap
generate small 1000 10 1 "$baseline_file"
timed "$work/base" "$C2TAP" replay --hostname bench "$baseline_file"
base_kb=$RSS_KB
printf '%-22s %12s %10s %12s %14s %8s\n' bound "peak RSS MiB" flows evicted "bytes/flow" alerts
for bound in default 1000000; do
    extra=()
    [[ $bound != default ]] && extra=(--max-flows "$bound")
    timed "$work/mem" "$C2TAP" replay --hostname bench "${extra[@]}" "${file[synflood]}"
    evicted=$(sed -n 's/.*evicted=\([0-9]*\).*/\1/p' "$work/mem.err")
    held=$((packets[synflood] - evicted))
    per_flow=$(ratio "$(((RSS_KB - base_kb) * 1024))" "$held" 0)
    got=$(count_alerts "$work/mem.out")
    [[ $got == "$(cat "${file[synflood]}.expected")" ]] || failures=$((failures + 1))
    printf '%-22s %12s %10d %12d %14s %8s\n' "$bound" "$(ratio "$RSS_KB" 1024 1)" "$held" "$evicted" \
        "$per_flow" "$got"
done
echo "# bytes/flow = (peak RSS - RSS of a 10-flow replay, $(ratio "$base_kb" 1024 1) MiB) / flows held at the end"
exit $((failures > 0))
