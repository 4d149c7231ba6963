#!/usr/bin/env bash
# Coverage-guided fuzzing (libFuzzer, through the libfuzzer-sys crate) of
# the parsers that read what others write: mail logs, complaint and bounce
# mail, the policy protocol, compressed rotations; and of the split run
# against one thread. Builds on stable Rust with LLVM's coverage passes (no
# sanitizer), with debug assertions and overflow checks on.
#
#   scripts/fuzz.sh                 every target, 120 s each
#   scripts/fuzz.sh TARGET [SECS]   one target (fuzz/fuzz_targets/TARGET.rs)
#
# Inputs that crash land in fuzz/artifacts/TARGET/; replay one with
#   fuzz/target/x86_64-unknown-linux-gnu/release/TARGET FILE
# Not part of scripts/test.sh: each finding is kept there as a unit test.
set -euo pipefail
cd "$(dirname "$0")/.."

targets=(maillog_lines split_same feedback_mail policy_request unpack)
if [ $# -ge 1 ]; then targets=("$1"); fi
secs=${2:-120}
triple=$(rustc -vV | sed -n 's/^host: //p')

export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing"
# --target keeps the flags off build scripts and proc macros.
cargo build --manifest-path fuzz/Cargo.toml --release --target "$triple" \
  $(printf -- '--bin %s ' "${targets[@]}")

[ -d fuzz/corpus ] || python3 fuzz/seeds.py "$PWD"
found=0
for t in "${targets[@]}"; do
  mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t"
  # A few dozen log lines find what a log can; a message may be long.
  case $t in feedback_mail | unpack) max=65536 ;; *) max=4096 ;; esac
  echo "== fuzzing $t for ${secs}s"
  if ! "fuzz/target/$triple/release/$t" -max_total_time="$secs" -max_len="$max" \
      -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="fuzz/artifacts/$t/" "fuzz/corpus/$t"; then
    echo "== $t: an input failed, see fuzz/artifacts/$t/"
    found=1
  fi
done
exit $found
