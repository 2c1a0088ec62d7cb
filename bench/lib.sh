# Helpers shared by bench/run.sh and bench/live.sh (sourced, not run).

# The built-in IOC set's C2 hosts: tcpdump's filter for "the same question".
IOC_FILTER='host 138.9.223.13 or host 138.9.41.254'

die() {
    echo "bench: $*" >&2
    exit 1
}

# median of the numbers given as arguments
median() {
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
        if (NR == 0) { print "nan"; exit }
        if (NR % 2) print v[(NR + 1) / 2]; else printf "%.6f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# a / b with `digits` decimals (awk: bash has no floating point)
ratio() {
    awk -v a="$1" -v b="$2" -v d="${3:-2}" 'BEGIN { if (b == 0) print "nan"; else printf "%.*f\n", d, a / b }'
}

# million packets per second: mpps PACKETS SECONDS
mpps() {
    awk -v n="$1" -v t="$2" 'BEGIN { if (t == 0) print "nan"; else printf "%.2f\n", n / t / 1e6 }'
}

# Build the release binaries once unless C2TAP/PCAPGEN point at existing ones.
build_release() {
    local root=$1
    if [[ -z ${C2TAP:-} || -z ${PCAPGEN:-} ]]; then
        (cd "$root" && cargo build --release --quiet --bin c2tap &&
            cargo build --release --quiet -p c2tap-pcapgen) ||
            die "release build failed"
    fi
    C2TAP=${C2TAP:-$root/target/release/c2tap}
    PCAPGEN=${PCAPGEN:-$root/target/release/c2tap-pcapgen}
    [[ -x $C2TAP && -x $PCAPGEN ]] || die "missing $C2TAP or $PCAPGEN"
}

# generate SHAPE PACKETS FLOWS IOC_FLOWS FILE: writes FILE.expected (the exact number of IOC
# flows the generator put in) next to it; reuses a file made with the same arguments.
generate() {
    local shape=$1 packets=$2 flows=$3 ioc=$4 file=$5
    if [[ -s $file && -s $file.expected ]]; then
        return
    fi
    local msg
    msg=$("$PCAPGEN" bench --shape "$shape" --packets "$packets" --flows "$flows" \
        --ioc-flows "$ioc" --out "$file" 2>&1) || die "pcapgen: $msg"
    # "... , K expected IOC flows (...)"
    sed -n 's/.* \([0-9][0-9]*\) expected IOC flows.*/\1/p' <<<"$msg" >"$file.expected"
    [[ -s $file.expected ]] || die "pcapgen said: $msg"
}

# timed OUT_PREFIX CMD...: runs CMD with stdout to OUT_PREFIX.out, stderr to OUT_PREFIX.err;
# sets WALL (seconds, ns resolution), CPU (user+sys seconds) and RSS_KB (peak).
timed() {
    local prefix=$1
    shift
    local t0 t1
    t0=$(date +%s%N)
    /usr/bin/time -f '%U %S %M' -o "$prefix.time" "$@" >"$prefix.out" 2>"$prefix.err" ||
        die "failed: $* (see $prefix.err)"
    t1=$(date +%s%N)
    WALL=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f\n", (b - a) / 1e9 }')
    read -r user sys RSS_KB < <(tail -1 "$prefix.time")
    CPU=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f\n", u + s }')
}

# The replay's own packet-loop time (its stderr summary: "... flows in S s ..."), from `timed`'s
# PREFIX.err: without start-up and IOC loading, steadier than wall time on short runs.
loop_secs() {
    sed -n 's/.* flows in \([0-9.]*\) s .*/\1/p' "$1.err" | tail -1
}

# CEF alert records (SignatureID 1001/1002) in a replay's stdout
count_alerts() {
    grep -c -E '^CEF:0\|([^|]*\|){3}100[12]\|' "$1" || true
}
