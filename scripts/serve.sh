#!/usr/bin/env bash
# The main job: the blocklist and mail log monitor on the embedded SQLite
# store (./unlisted.db in the directory it is run from). Writes
# ./unlisted.toml from the annotated example on first run; edit its
# [[server]] entries, [dns] nameserver and [[log]] files, then run again.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cargo build --release --locked --manifest-path "$repo/Cargo.toml" -p unlisted
bin="$repo/target/release/unlisted"
if [ ! -f unlisted.toml ]; then
  "$bin" config example > unlisted.toml
  echo "wrote ./unlisted.toml from the example: set your servers and your own resolver in it" >&2
fi
"$bin" config check --config unlisted.toml
exec "$bin" serve --config unlisted.toml --db unlisted.db "$@"
