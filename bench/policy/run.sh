#!/usr/bin/env bash
# Policy service benchmark: `unlisted policy` vs postfwd (postfwd1, the
# single-process flavour its docs recommend for rate-limit rulesets) with
# the same rules, driven by crates/policyload at 1, 50 and 500 concurrent
# connections on loopback. Prints a Markdown report.
# usage: bench/policy/run.sh [SECONDS per run, default 5] [RUNS, default 3]
set -euo pipefail
cd "$(dirname "$0")/../.."
missing=()
[ -x /usr/sbin/postfwd1 ] || missing+=(postfwd)
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
cargo build --release --locked -p unlisted -p policyload
python3 bench/policy/bench.py "$@"
