#!/usr/bin/env bash
# Fuzz smoke run: every cargo-fuzz target for a few seconds from its committed seeds, so a
# parser change that crashes on the seeds or on the first mutations fails CI. Long runs are
# `RUSTC_BOOTSTRAP=1 cargo fuzz run <target>` by hand (see fuzz/README.md).
#
#   scripts/fuzz-smoke.sh [SECONDS_PER_TARGET]   (default 5)
#
# cargo-fuzz needs nightly compiler features; RUSTC_BOOTSTRAP=1 unlocks them on the stable
# toolchain. New inputs found go to a scratch directory, never into fuzz/corpus/; crashing
# inputs are kept in fuzz/artifacts/ (ignored by git) for a regression test.
set -euo pipefail
cd "$(dirname "$0")/.."

secs="${1:-5}"
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz-smoke: SKIPPED: cargo-fuzz is not installed (cargo install cargo-fuzz)" >&2
    exit 0
fi
export RUSTC_BOOTSTRAP=1
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

# Debug assertions on: integer overflow in a parser is a finding too.
cargo fuzz build -a >/dev/null
failed=()
for target in $(cargo fuzz list); do
    mkdir -p "$scratch/$target" "fuzz/corpus/$target" fuzz/artifacts
    log="$scratch/$target.log"
    if cargo fuzz run -a "$target" "$scratch/$target" "fuzz/corpus/$target" -- \
        -max_total_time="$secs" -rss_limit_mb=4096 -print_final_stats=1 \
        -artifact_prefix="fuzz/artifacts/$target-" >"$log" 2>&1; then
        runs=$(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
        cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || echo "?")
        echo "fuzz-smoke: $target ok ($runs runs, cov $cov)"
    else
        echo "fuzz-smoke: $target FAILED; last lines:" >&2
        tail -40 "$log" >&2
        failed+=("$target")
    fi
done
if ((${#failed[@]})); then
    echo "fuzz-smoke: failing targets: ${failed[*]}; crash inputs are in fuzz/artifacts/" >&2
    exit 1
fi
