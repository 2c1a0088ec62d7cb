#!/usr/bin/env bash
# The whole test suite: installs what the tests need, then builds, lints and tests.
# Tests that need real parts (veth namespaces, tcpreplay, rsyslog, prometheus) start them
# themselves, and fail with the reason when a part or root is missing: none passes by skipping.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh build-essential pkg-config libpcap-dev tcpdump tcpreplay iproute2 rsyslog rsyslog-gnutls rsyslog-relp prometheus systemd
# Fetched-feed tests: medallion (TAXII 2.1, from PyPI into a venv the test makes) and a proxy.
scripts/deps.sh python3 python3-venv python3-pip tinyproxy
# Name tests: a real resolver (dnsmasq) and real clients (dig, openssl s_client, curl).
scripts/deps.sh dnsmasq-base dnsutils openssl curl
# Node (for the KQL checks) may come from elsewhere than Debian; only install it when absent.
command -v npm >/dev/null 2>&1 || scripts/deps.sh nodejs npm

# Tools the tests themselves run: installed before the tests, never discovered missing by them.
# The Debian package test (tests/package.rs) builds the .deb with cargo-deb.
command -v cargo-deb >/dev/null 2>&1 || cargo install --locked cargo-deb

cargo fmt --all -- --check
cargo clippy --all-targets -- -D warnings
results="$(mktemp)"
trap 'rm -f "$results"' EXIT
# A failing test run still reaches the closing line; its status is the script's at the end.
status=0
cargo test --workspace --no-fail-fast 2>&1 | tee "$results" || status=$?
passed="$(awk '/^test result:/ { n += $4 } END { print n + 0 }' "$results")"
failed="$(awk '/^test result:/ { n += $6 } END { print n + 0 }' "$results")"
ignored="$(awk '/^test result:/ { n += $8 } END { print n + 0 }' "$results")"

# Supply chain, offline part (licences, duplicate crates, sources). The advisory database is
# cloned from GitHub, which this build machine cannot reach: `cargo deny check advisories` and
# `cargo audit` run where it is reachable.
command -v cargo-deny >/dev/null 2>&1 || cargo install --locked cargo-deny
cargo deny check licenses bans sources


# Fuzz smoke: every cargo-fuzz target for a few seconds from its committed seeds.
command -v cargo-fuzz >/dev/null 2>&1 || cargo install --locked cargo-fuzz
scripts/fuzz-smoke.sh 5

# One closing line for the whole suite (cargo prints one per test binary).
echo "tests: ${passed} passed, ${failed} failed, ${ignored} ignored"
exit "$status"
