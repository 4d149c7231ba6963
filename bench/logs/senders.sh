#!/usr/bin/env bash
# Memory against the number of senders: `unlisted logs analyze` and
# eximstats on forwarding-server logs (bench/logs/forward.py) of 30, 60 and
# 120 days, where every message has a new outside sender. Prints a Markdown
# report.
# usage: bench/logs/senders.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v eximstats >/dev/null 2>&1 || [ -x /usr/sbin/eximstats ] || {
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends exim4-base time
}
export PATH="$PATH:/usr/sbin"
cargo build --release --locked -p unlisted
bin=target/release/unlisted
dir=$(mktemp -d /tmp/unlisted-senderbench.XXXXXX)
trap 'rm -rf "$dir"' EXIT

measure() {
  /usr/bin/time -f "%e %M" -o "$dir/time" "$@" > "$dir/out" 2>/dev/null || true
  read -r secs kb < <(tail -1 "$dir/time")
  echo "$secs $((kb / 1024))"
}

echo "## Memory against senders: forwarding-server logs"
echo
echo "Machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores; $(uname -sr); $(date -u +%F)."
echo
echo "| days | MB | senders | tool | wall s | peak RSS MiB |"
echo "|---|---|---|---|---|---|"
for days in 30 60 120; do
  log="$dir/forward.log"
  python3 bench/logs/forward.py "$days" "$log"
  mb=$(( $(stat -c %s "$log") / 1048576 ))
  cat "$log" > /dev/null
  read -r s1 m1 < <(measure "$bin" logs analyze --json --threads 1 --format exim "$log")
  senders=$(tail -1 "$dir/out" | python3 -c "import json,sys; s=json.load(sys.stdin); print(f'{s[\"senders\"]} ({s[\"retired_senders\"]} on disk at the end)')")
  read -r s2 m2 < <(measure "$bin" logs analyze --json --format exim "$log")
  read -r s3 m3 < <(measure eximstats "$log")
  echo "| $days | $mb | $senders | unlisted logs analyze --threads 1 | $s1 | $m1 |"
  echo "| $days | $mb | | unlisted logs analyze ($(nproc) threads) | $s2 | $m2 |"
  echo "| $days | $mb | | eximstats | $s3 | $m3 |"
  rm -f "$log"
done
