#!/usr/bin/env bash
# DNSBL benchmark: unlisted check vs pydnsbl against rbldnsd on loopback,
# with dnsperf measuring rbldnsd's ceiling. Needs root (rbldnsd binds
# 127.0.0.153:53, the only port pydnsbl's resolver can use).
# usage: bench/dnsbl/run.sh [IPS] [IPS,IPS,... for the memory series]
set -euo pipefail
cd "$(dirname "$0")/../.."
missing=()
command -v rbldnsd >/dev/null 2>&1 || [ -x /usr/sbin/rbldnsd ] || missing+=(rbldnsd)
command -v dnsperf >/dev/null 2>&1 || missing+=(dnsperf)
[ -x /usr/bin/time ] || missing+=(time)
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi
python3 -c 'import pydnsbl' 2>/dev/null || python3 -m pip install -q --disable-pip-version-check 'pydnsbl==1.1.7'
cargo build --release --locked -p unlisted
export PATH="$PATH:/usr/sbin"
python3 bench/dnsbl/bench.py "$@"
