#!/usr/bin/env bash
# A flood aimed at the IOC path (issue 13) against the same flood that matches nothing.
#
# Generates with c2tap-pcapgen two captures of PACKETS SYNs, each to a new internal host:port:
# one "from" the built-in Remcos C2 138.9.223.13:8015 (every flow matches the IOC: spoofed
# SYNs cost an attacker nothing), one from a benign address; both carry one real C2 session in
# their middle. Replays each RUNS times alternately with small flow tables and prints median
# wall and CPU time, peak RSS and the matched/benign ratio; checks that the matched flood's
# records are the real session's 1001 (established) and 1003 plus contact-storm records (1005)
# whose counts add up to every spoofed flow.
#
# usage: bench/flood.sh
# environment: RUNS=5 PACKETS=1000000 BOUNDS="10000 100000" DATA=target/bench-data
#              C2TAP=... PCAPGEN=...   use these binaries instead of building target/release ones
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"

RUNS=${RUNS:-5}
PACKETS=${PACKETS:-1000000}
BOUNDS=${BOUNDS:-10000 100000}
DATA=${DATA:-$root/target/bench-data}
[[ -x /usr/bin/time ]] || die "/usr/bin/time not installed (apt-get install time)"
mkdir -p "$DATA"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

build_release "$root"

declare -A file
for from in c2 benign; do
    file[$from]=$DATA/flood-$from-$PACKETS.pcap
    if [[ ! -s ${file[$from]} ]]; then
        "$PCAPGEN" flood --from "$from" --packets "$PACKETS" --genuine --out "${file[$from]}" 2>/dev/null ||
            die "pcapgen flood failed"
    fi
done

# check_matched OUT: the real session and the storm counts, or a complaint
check_matched() {
    local out=$1 real storm
    real=$(grep -c -E '\|1001\|.* src=10\.200\.0\.1 spt=40001 dst=138\.9\.223\.13 dpt=8015 .*act=established' "$out" || true)
    storm=$(grep -E '^CEF:0\|([^|]*\|){3}1005\|' "$out" | sed -n 's/.* cnt=\([0-9]*\) .*/\1/p' | awk '{ s += $1 } END { print s + 0 }')
    if [[ $real != 1 || $storm != "$PACKETS" ]]; then
        echo "MISMATCH: real session 1001 x$real, storm cnt $storm (want 1 and $PACKETS)" >&2
        return 1
    fi
}

echo "# SYN flood of $PACKETS new flows: from the C2 (every flow matches) vs from a benign address"
echo "# $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), $RUNS runs each, alternating; medians"
printf '%-11s | %-30s | %-30s | %s\n' max-flows "benign: wall / CPU s, RSS MiB" "matched: wall / CPU s, RSS MiB" "ratio wall / CPU"
failures=0
for bound in $BOUNDS; do
    declare -a bw=() bc=() br=() mw=() mc=() mr=()
    for ((i = 0; i < RUNS; i++)); do
        for from in $(if ((i % 2)); then echo c2 benign; else echo benign c2; fi); do
            timed "$work/$from" "$C2TAP" replay --hostname bench --max-flows "$bound" "${file[$from]}"
            if [[ $from == c2 ]]; then
                mw+=("$WALL") mc+=("$CPU") mr+=("$RSS_KB")
                check_matched "$work/c2.out" || failures=$((failures + 1))
            else
                bw+=("$WALL") bc+=("$CPU") br+=("$RSS_KB")
            fi
        done
    done
    b=$(median "${bw[@]}") m=$(median "${mw[@]}")
    printf '%-11s | %7.3f / %-6.2f %8s      | %7.3f / %-6.2f %8s      | %5sx / %sx\n' "$bound" \
        "$b" "$(median "${bc[@]}")" "$(ratio "$(median "${br[@]}")" 1024 1)" \
        "$m" "$(median "${mc[@]}")" "$(ratio "$(median "${mr[@]}")" 1024 1)" \
        "$(ratio "$m" "$b")" "$(ratio "$(median "${mc[@]}")" "$(median "${bc[@]}")")"
done
echo "# matched-flood records: the real session's 1001 and 1003, storm cnt summing to $PACKETS:" \
    "$([[ $failures == 0 ]] && echo yes || echo "NO: $failures mismatches")"
exit $((failures > 0))
