#!/usr/bin/env bash
# Log analysis benchmark: `unlisted logs analyze` vs pflogsumm (Postfix) and
# eximstats (Exim) on the same generated logs, with `wc -l` on the same file
# as the ceiling of reading it. Prints a Markdown report.
# usage: bench/logs/run.sh [SIZE_MB]   (default 1024)
set -euo pipefail
cd "$(dirname "$0")/../.."
size=${1:-1024}
missing=()
command -v pflogsumm >/dev/null 2>&1 || [ -x /usr/sbin/pflogsumm ] || missing+=(pflogsumm)
command -v eximstats >/dev/null 2>&1 || [ -x /usr/sbin/eximstats ] || missing+=(exim4-base)
[ -x /usr/bin/time ] || missing+=(time)
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
export PATH="$PATH:/usr/sbin"
cargo build --release --locked -p unlisted
cargo build --release --locked -p detect --example stages
bin=target/release/unlisted
stages=target/release/examples/stages
dir=$(mktemp -d /tmp/unlisted-logbench.XXXXXX)
trap 'rm -rf "$dir"' EXIT

# measure NAME CMD...: wall seconds and peak RSS (MiB) of CMD, stdout to a file.
measure() {
  local name=$1; shift
  /usr/bin/time -f "%e %M" -o "$dir/$name.time" "$@" > "$dir/$name.out" 2>/dev/null || true
  # GNU time writes "Command exited with non-zero status N" first then.
  read -r secs kb < <(tail -1 "$dir/$name.time")
  echo "$secs $((kb / 1024))"
}

# median3 NAME CMD...: measure three times (file warmed before each);
# prints the median wall seconds and its peak RSS.
median3() {
  local name=$1; shift
  for i in 1 2 3; do warm; measure "$name" "$@"; done | sort -n | sed -n 2p
}

echo "## Log analysis: ${size} MB logs"
echo
echo "Machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores; $(uname -sr); $(date -u +%F)."
echo "pflogsumm $(dpkg-query -W -f='${Version}' pflogsumm 2>/dev/null), eximstats from exim4-base $(dpkg-query -W -f='${Version}' exim4-base 2>/dev/null)."
echo
echo "| log | tool | wall s | MB/s | peak RSS MiB | x slower than unlisted |"
echo "|---|---|---|---|---|---|"
for fmt in postfix exim; do
  log="$dir/$fmt.log"
  python3 bench/logs/gen.py "$fmt" "$size" "$log"
  mb=$(( $(stat -c %s "$log") / 1048576 ))
  # Into the page cache before every tool alike (this machine's proactive
  # reclaim, kdamond, drops idle file pages).
  warm() { cat "$log" > /dev/null; }
  warm
  read -r wc_s wc_m < <(measure wc wc -l "$log")
  # unlisted: the median of three runs each (this shared machine varies).
  read -r our_s our_m < <(median3 ours "$bin" logs analyze --json --format "$fmt" "$log")
  read -r one_s one_m < <(median3 one "$bin" logs analyze --json --threads 1 --format "$fmt" "$log")
  cmp -s "$dir/ours.out" "$dir/one.out" || echo "WARNING: --threads 1 printed something else than the default" >&2
  warm
  if [ "$fmt" = postfix ]; then
    read -r peer_s peer_m < <(measure peer pflogsumm "$log"); peer=pflogsumm
  else
    read -r peer_s peer_m < <(measure peer eximstats "$log"); peer=eximstats
  fi
  rate() { python3 -c "print(f'{$mb/max($1,0.001):.0f}')"; }
  ratio() { python3 -c "print(f'{$1/max($2,0.001):.1f}')"; }
  echo "| $fmt ${mb} MB | wc -l (ceiling) | $wc_s | $(rate "$wc_s") | $wc_m | |"
  echo "| $fmt ${mb} MB | unlisted logs analyze ($(nproc) threads) | $our_s | $(rate "$our_s") | $our_m | 1.0 |"
  echo "| $fmt ${mb} MB | unlisted logs analyze --threads 1 | $one_s | $(rate "$one_s") | $one_m | $(ratio "$one_s" "$our_s") |"
  echo "| $fmt ${mb} MB | $peer | $peer_s | $(rate "$peer_s") | $peer_m | $(ratio "$peer_s" "$our_s") |"
  # Where one thread's time goes: the stages alone, on the file in memory
  # (crates/detect/examples/stages.rs).
  "$stages" "$fmt" "$log" | while IFS=$'\t' read -r stage secs mbs _; do
    case $stage in
      split) what="one thread: split into lines only" ;;
      parse) what="one thread: each line parsed alone" ;;
      assemble) what="one thread: parsed and assembled into messages" ;;
      detect) what="one thread: the detector alone, on those messages' observations" ;;
      tally) what="one thread: a bare per-sender tally, the peer's own counting (floor)" ;;
      lean) what="one thread: a fused counting pass, no allocation per message (not a correct reader: finds A=/U= anywhere in a line, subjects too)" ;;
      *) what="one thread: $stage" ;;
    esac
    echo "| $fmt ${mb} MB | $what | $secs | $mbs | | |"
  done
  tail -1 "$dir/ours.out" | python3 -c "import json,sys; s=json.loads(sys.stdin.read()); print(f'|  | (unlisted saw {s[\"lines\"]} lines, {s[\"not_understood\"]} not understood, {s[\"messages\"]} messages, {s[\"senders\"]} senders) | | | | |')"
  # Memory against log size: the first quarter of the same log.
  head -c $(( $(stat -c %s "$log") / 4 )) "$log" > "$dir/quarter.log"
  cat "$dir/quarter.log" > /dev/null
  read -r q_s q_m < <(measure quarter "$bin" logs analyze --json --format "$fmt" "$dir/quarter.log")
  echo "| $fmt $((mb / 4)) MB (first quarter) | unlisted logs analyze | $q_s | $(python3 -c "print(f'{$((mb / 4))/max($q_s,0.001):.0f}')") | $q_m | |"
  rm -f "$log" "$dir/quarter.log"
done
