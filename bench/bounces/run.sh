#!/usr/bin/env bash
# Bounce classifier evaluation: writes the corpus of cases.tsv to a
# temporary folder and scores `unlisted bounce explain` on it. Any other
# folder with a labels.tsv can be scored with eval.py directly.
# usage: bench/bounces/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release --locked -p unlisted
dir=$(mktemp -d /tmp/unlisted-bounces.XXXXXX)
trap 'rm -rf "$dir"' EXIT
python3 bench/bounces/make_corpus.py "$dir" >/dev/null
python3 bench/bounces/eval.py "$dir" target/release/unlisted
