#!/usr/bin/env bash
# The main job: the blocklist monitor on the embedded SQLite store
# (./unlisted.db). Writes ./unlisted.toml from the annotated example on first
# run; edit its [[server]] entries and [dns] nameserver, then run again.
set -euo pipefail
cargo build --release --locked -p unlisted
bin="$(cd "$(dirname "$0")/.." && pwd)/target/release/unlisted"
if [ ! -f unlisted.toml ]; then
  "$bin" config example > unlisted.toml
  echo "wrote ./unlisted.toml from the example: set your servers and your own resolver in it" >&2
fi
"$bin" config check --config unlisted.toml
exec "$bin" serve --config unlisted.toml --db unlisted.db "$@"
