#!/usr/bin/env bash
# Site scan benchmark: `unlisted scan` vs the `yara` CLI (libyara, Debian)
# and `clamscan` (ClamAV, Debian), all with our rules
# (catalog/rules/unlisted.yar), on one tree: the clean Debian PHP corpus
# (scripts/clean-php.sh) with our defanged samples planted in a WordPress
# uploads directory. Reading every file with cat is the ceiling. Prints a
# Markdown report: time, MB/s, files/s, peak RSS, planted samples found and
# clean files flagged.
# usage: bench/scan/run.sh [RUNS]   (default 3; the median is reported;
#                                     clamscan runs once, it takes minutes)
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-3}
missing=()
command -v yara >/dev/null 2>&1 || missing+=(yara)
command -v clamscan >/dev/null 2>&1 || missing+=(clamav)
[ -x /usr/bin/time ] || missing+=(time)
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
scripts/clean-php.sh
cargo build --release --locked -p unlisted
bin=$PWD/target/release/unlisted
rules=$PWD/catalog/rules/unlisted.yar
dir=$(mktemp -d /tmp/unlisted-scanbench.XXXXXX)
trap 'rm -rf "$dir"' EXIT

tree=$dir/tree
cp -a target/clean-php "$tree"
rm -f "$tree/.complete"
wp=$(find "$tree" -path '*/usr/share/wordpress' -type d | head -1)
planted=$wp/wp-content/uploads/2026/11
mkdir -p "$planted"
find crates/sitescan/testdata/malicious -type f ! -name README.md -exec cp {} "$planted/" \;
nplanted=$(find "$planted" -type f | wc -l)
files=$(find "$tree" -type f | wc -l)
bytes=$(find "$tree" -type f -printf '%s\n' | awk '{s+=$1} END {print s}')
mb=$(python3 -c "print(f'{$bytes/1e6:.0f}')")

# measure NAME CMD...: "seconds peakMiB" of the median of $runs runs
# (by wall time); the last run's stdout is kept in $dir/NAME.out.
measure() {
  local name=$1 n=$2; shift 2
  for i in $(seq "$n"); do
    /usr/bin/time -f "%e %M" -o "$dir/$name.time.$i" "$@" > "$dir/$name.out" 2>/dev/null || true
    tail -1 "$dir/$name.time.$i"
  done | sort -n | awk -v n="$n" 'NR == int((n + 1) / 2) { printf "%s %d\n", $1, $2 / 1024 }'
}

# found FILE: "planted-found clean-flagged" from a list of flagged paths.
found() {
  sort -u "$1" | awk -v p="$planted/" 'index($0, p) == 1 { a++ } index($0, p) != 1 { b++ } END { printf "%d %d\n", a, b }'
}

find "$tree" -type f -exec cat {} + > /dev/null # page cache, for every tool alike
read -r cat_s cat_m < <(measure cat "$runs" sh -c "find '$tree' -type f -exec cat {} + > /dev/null")
read -r o2_s o2_m < <(measure ours2 "$runs" "$bin" scan --json --threads 2 "$tree")
python3 - "$dir/ours2.out" "$dir/ours2.rule" "$dir/ours2.mal" <<'PY'
import json, sys
rule, mal = open(sys.argv[2], "w"), open(sys.argv[3], "w")
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["type"] != "finding":
        continue
    if r["rule"].startswith("unlisted:"):
        print(r["path"], file=rule)
    if r["severity"] == "malicious":
        print(r["path"], file=mal)
PY
read -r o1_s o1_m < <(measure ours1 "$runs" "$bin" scan --json --threads 1 "$tree")
read -r y2_s y2_m < <(measure yara2 "$runs" yara -r -p 2 "$rules" "$tree")
cut -d' ' -f2- "$dir/yara2.out" > "$dir/yara2.paths"
read -r y1_s y1_m < <(measure yara1 "$runs" yara -r -p 1 "$rules" "$tree")
read -r c_s c_m < <(measure clam 1 clamscan --no-summary -i -r -d "$rules" "$tree")
sed -n 's/: YARA\..* FOUND$//p' "$dir/clam.out" > "$dir/clam.paths"
clam_rules=$( (clamscan --no-summary -d "$rules" /dev/null 2>&1 || true) | sed -n 's/.*successfully loaded \([0-9]*\) rules.*/\1/p')

read -r o_found o_rule_fp < <(found "$dir/ours2.rule")
read -r o_mal o_fp < <(found "$dir/ours2.mal")
read -r y_found y_fp < <(found "$dir/yara2.paths")
read -r c_found c_fp < <(found "$dir/clam.paths")
suspicious=$(tail -1 "$dir/ours2.out" | python3 -c "import json,sys; print(json.load(sys.stdin)['suspicious'])")

rate() { python3 -c "print(f'{$1/max($2,0.001):.0f}')"; }
ratio() { python3 -c "print(f'{$1/max($2,0.001):.1f}')"; }
echo "## Site scan: $files files, $mb MB"
echo
echo "Machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores; $(uname -sr); $(date -u +%F)."
echo "yara $(yara --version), $(clamscan --version | cut -d/ -f1) (loaded $clam_rules of $(grep -c '^rule ' "$rules") rules: its YARA subset). Median of $runs runs; clamscan once."
echo
echo "| tool | wall s | MB/s | files/s | peak RSS MiB | planted found (of $nplanted) | clean files flagged | x slower than unlisted (2 threads) |"
echo "|---|---|---|---|---|---|---|---|"
echo "| cat every file (ceiling) | $cat_s | $(rate "$mb" "$cat_s") | $(rate "$files" "$cat_s") | $cat_m | | | |"
echo "| unlisted scan, 2 threads | $o2_s | $(rate "$mb" "$o2_s") | $(rate "$files" "$o2_s") | $o2_m | $o_found ($o_mal malicious) | $o_rule_fp (any rule), $o_fp malicious; $suspicious suspicious findings from heuristics | 1.0 |"
echo "| unlisted scan, 1 thread | $o1_s | $(rate "$mb" "$o1_s") | $(rate "$files" "$o1_s") | $o1_m | | | $(ratio "$o1_s" "$o2_s") |"
echo "| yara -p 2 | $y2_s | $(rate "$mb" "$y2_s") | $(rate "$files" "$y2_s") | $y2_m | $y_found | $y_fp (any rule) | $(ratio "$y2_s" "$o2_s") |"
echo "| yara -p 1 | $y1_s | $(rate "$mb" "$y1_s") | $(rate "$files" "$y1_s") | $y1_m | | | $(ratio "$y1_s" "$o2_s") |"
echo "| clamscan | $c_s | $(rate "$mb" "$c_s") | $(rate "$files" "$c_s") | $c_m | $c_found | $c_fp (any rule) | $(ratio "$c_s" "$o2_s") |"
