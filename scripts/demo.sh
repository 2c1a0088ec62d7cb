#!/usr/bin/env bash
# Replays the bundled demo capture through c2tap with the built-in Remcos IOC set and prints
# the CEF alert records on stdout (the summary goes to stderr).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh build-essential pkg-config libpcap-dev
cargo run --release --quiet -- replay pcaps/demo-remcos.pcap "$@"
