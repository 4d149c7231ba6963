#!/usr/bin/env bash
# Clean PHP for the scanner's false-positive gate and its benchmark:
# Debian's WordPress, MediaWiki, phpMyAdmin and Roundcube, unpacked (not
# installed) into target/clean-php. Does nothing when already complete.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -e target/clean-php/.complete ] && exit 0
echo "== unpacking clean PHP (wordpress mediawiki phpmyadmin roundcube-core) into target/clean-php"
rm -rf target/clean-php-deb target/clean-php
mkdir -p target/clean-php-deb target/clean-php
pkgs="wordpress mediawiki phpmyadmin roundcube-core"
(cd target/clean-php-deb && apt-get download $pkgs) \
  || { apt-get update -qq && (cd target/clean-php-deb && apt-get download $pkgs); }
for deb in target/clean-php-deb/*.deb; do
  dpkg -x "$deb" "target/clean-php/$(basename "$deb" .deb)"
done
touch target/clean-php/.complete
