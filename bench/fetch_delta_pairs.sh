#!/bin/sh
# Fetches the real binary pairs delta_bench measures (two Debian builds each
# of libssl3 and libcurl4) into a cache dir, once; later runs reuse it.
#
#   bench/fetch_delta_pairs.sh <cache-dir>
#
# Leaves <cache-dir>/<package>_<version>/ unpacked (dpkg-deb -x). Needs apt
# sources that still list these versions and network access; delta_bench
# skips the real pairs, saying so, when they are missing.
set -eu
cache=${1:?usage: fetch_delta_pairs.sh <cache-dir>}
mkdir -p "$cache"
cd "$cache"
for spec in libssl3=3.0.20-1~deb12u2 libssl3=3.0.22-1~deb12u2 \
            libcurl4=7.88.1-10+deb12u5 libcurl4=7.88.1-10+deb12u15; do
  pkg=${spec%%=*}
  ver=${spec#*=}
  dir="${pkg}_${ver}"
  [ -d "$dir" ] && continue
  tmp=$(mktemp -d "$PWD/.fetch.XXXXXX")
  if ! (cd "$tmp" && apt-get download -q "$spec" >"$tmp/log" 2>&1); then
    cat "$tmp/log" >&2
    rm -rf "$tmp"
    exit 1
  fi
  dpkg-deb -x "$tmp"/*.deb "$tmp/root"
  mv "$tmp/root" "$dir"
  rm -rf "$tmp"
done
