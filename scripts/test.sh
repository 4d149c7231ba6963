#!/usr/bin/env bash
# Runs every test of unlisted: formatting, lints, unit and integration tests
# against real servers (rbldnsd, aiosmtpd, Exim and Postfix with swaks,
# Chromium for the dashboard). Installs what
# is missing first (Debian packages with apt-get, Python packages with pip);
# needs root for apt-get, as in CI.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_missing=()
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }
have rbldnsd || apt_missing+=(rbldnsd)
have pkg-config || apt_missing+=(pkg-config)
# The fuzz targets' libFuzzer (built by the libfuzzer-sys crate) is C++.
have g++ || apt_missing+=(g++)
dpkg -s libssl-dev >/dev/null 2>&1 || apt_missing+=(libssl-dev)
have python3 || apt_missing+=(python3 python3-pip)
# Postfix logs kept only in the systemd journal: journalctl reads journal
# files that systemd-journal-remote writes (no journald runs here).
have journalctl || apt_missing+=(systemd)
# The shipped unit file is checked by systemd's own systemd-analyze.
have systemd-analyze || apt_missing+=(systemd)
[ -x /lib/systemd/systemd-journal-remote ] || apt_missing+=(systemd-journal-remote)
# Logs in local time are read through the system's zone database.
[ -f /usr/share/zoneinfo/America/Chicago ] || apt_missing+=(tzdata)
# A real Exim writes the logs the parsers are tested on; swaks talks SMTP to it.
have exim4 || apt_missing+=(exim4-daemon-light)
have swaks || apt_missing+=(swaks)
# Exim logging through syslog writes to a real rsyslogd (run by the test on
# a socket of its own, never /dev/log).
have rsyslogd || apt_missing+=(rsyslog)
# Dovecot's failed IMAP logins land in the same mail log as Postfix's.
have dovecot || apt_missing+=(dovecot-imapd)
# A real logrotate rotates a real Exim's log under a running daemon.
have logrotate || apt_missing+=(logrotate)
# Rotated logs compressed as logrotate's compresscmd may: by the real tools.
have xz || apt_missing+=(xz-utils)
have bzip2 || apt_missing+=(bzip2)
have zstd || apt_missing+=(zstd)
have lz4 || apt_missing+=(lz4)
# Postfix runs from an unpacked tree (its package conflicts with Exim's);
# SASL logins go through Cyrus sasldb.
have saslpasswd2 || apt_missing+=(sasl2-bin)
dpkg -s libsasl2-modules >/dev/null 2>&1 || apt_missing+=(libsasl2-modules)
# The dashboard is tested in a real headless browser.
have chromium || apt_missing+=(chromium)
if [ ${#apt_missing[@]} -gt 0 ]; then
  echo "== installing ${apt_missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${apt_missing[@]}"
fi
if [ ! -x target/postfix-root/usr/sbin/postfix ]; then
  echo "== unpacking Postfix into target/postfix-root"
  rm -rf target/postfix-deb target/postfix-root
  mkdir -p target/postfix-deb
  # Stale package lists can name a version the mirror no longer has.
  (cd target/postfix-deb && apt-get download postfix) \
    || { apt-get update -qq && (cd target/postfix-deb && apt-get download postfix); }
  dpkg -x target/postfix-deb/postfix_*.deb target/postfix-root
fi
# Its binaries look for their shared libraries in /usr/lib/postfix (RUNPATH),
# and it runs as the postfix user with a postdrop group, as installed.
if [ ! -e /usr/lib/postfix/libpostfix-global.so ]; then
  mkdir -p /usr/lib/postfix
  cp target/postfix-root/usr/lib/postfix/*.so /usr/lib/postfix/
fi
# Clean PHP for the scanner's false-positive gate.
scripts/clean-php.sh
getent group postdrop >/dev/null || groupadd --system postdrop
id postfix >/dev/null 2>&1 || useradd --system --home-dir /nonexistent --shell /usr/sbin/nologin postfix
if ! python3 -c 'import aiosmtpd' 2>/dev/null; then
  echo "== installing aiosmtpd (the SMTP server alert tests send to)"
  python3 -m pip install -q --disable-pip-version-check aiosmtpd
fi
if ! python3 -c 'import openapi_spec_validator, jsonschema, referencing, websocket' 2>/dev/null; then
  echo "== installing openapi-spec-validator, jsonschema (the API against its OpenAPI file) and websocket-client (Chromium's DevTools protocol)"
  python3 -m pip install -q --disable-pip-version-check openapi-spec-validator jsonschema referencing websocket-client
fi

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
# The fuzz targets (scripts/fuzz.sh) live outside the workspace; checking
# them here keeps them building as the crates change.
cargo fmt --manifest-path fuzz/Cargo.toml -- --check
CARGO_TARGET_DIR=target cargo clippy --manifest-path fuzz/Cargo.toml --all-targets --locked -- -D warnings
# nextest runs each test in its own process and ends on one summary line;
# plain cargo test is the fallback where nextest is missing.
if cargo nextest --version >/dev/null 2>&1; then
  echo "== cargo nextest run"
  cargo nextest run --workspace --locked --no-fail-fast
else
  echo "== cargo test"
  cargo test --workspace --locked --no-fail-fast
fi
