#!/usr/bin/env bash
# Developer check of the interop scripts, tuf-js against tuf-js: repositories
# made by tufjs_make_repo.mjs (@tufjs/models), served over loopback HTTP by a
# small node server, fetched by tufjs_client.mjs (tuf-js Updater).
#
#   tests/interop/selfcheck.sh [BUILDDIR]     (default: build)
#
# Needs BUILDDIR/interop/node_modules, which ./dev installs at configure time.
# Prints one line per check and "N passed, N failed"; exit status 1 on failure.
# TUF_SELFCHECK_KEEP=1 keeps the work folder (its path is printed).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
build="${1:-$here/../../build}"
modules="$(cd "$build" && pwd)/interop/node_modules"
[[ -d "$modules" ]] || { echo "selfcheck: no $modules (run ./dev first)" >&2; exit 2; }

work="$(mktemp -d "${TMPDIR:-/tmp}/tuf-selfcheck.XXXXXX")"
server_pid=""
stop_server() {
  if [[ -n "$server_pid" ]]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
    exec 3<&-
  fi
}
cleanup() {
  stop_server
  if [[ "${TUF_SELFCHECK_KEEP:-0}" == 1 ]]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

# Static file server on 127.0.0.1, port 0; first stdout line like `atrium
# serve`; one line per request on stderr (method, path, status, User-Agent).
# shellcheck disable=SC2016  # JavaScript, expanded by node
SERVER_JS='
const http = require("http"), fs = require("fs"), path = require("path");
const root = path.resolve(process.argv[1]);
const server = http.createServer((req, res) => {
  const file = path.join(root, decodeURIComponent(new URL(req.url, "http://h").pathname));
  let body = null;
  if (file.startsWith(root + path.sep)) { try { body = fs.readFileSync(file); } catch {} }
  res.writeHead(body ? 200 : 404).end(body ?? "");
  console.error(`${req.method} ${req.url} ${body ? 200 : 404} ua=${req.headers["user-agent"] ?? ""}`);
});
server.listen(0, "127.0.0.1", () =>
  console.log(`serving ${root} at http://127.0.0.1:${server.address().port}/`));
'

passed=0 failed=0
pass() { passed=$((passed + 1)); echo "PASS $*"; }
fail() { failed=$((failed + 1)); echo "FAIL $*"; }

# make_repo <case> [tufjs_make_repo.mjs args...]: repo in $work/<case>/repo
# with two targets: hello.txt and apps/wallet/bundle.atb (with custom).
make_repo() {
  local c="$1"
  shift
  mkdir -p "$work/$c/src"
  printf 'hello from %s\n' "$c" >"$work/$c/src/hello.txt"
  head -c 100000 /dev/urandom >"$work/$c/src/bundle.atb"
  node "$here/tufjs_make_repo.mjs" --modules "$modules" --out "$work/$c/repo" \
    --target "$work/$c/src/hello.txt=hello.txt" \
    --target "$work/$c/src/bundle.atb=apps/wallet/bundle.atb" \
    --custom 'apps/wallet/bundle.atb={"kind":"bundle","id":"wallet","version":"1.2.0","requires":{"container":">=3"},"tags":["a","b"]}' \
    "$@" >"$work/$c/make.out"
}

# serve <case>: (re)starts the server on $work/<case>/repo, sets $url.
serve() {
  stop_server
  # The server's stdout is a pipe: its first line (the URL) is read as it
  # comes, no polling.
  rm -f "$work/$1/server.fifo"
  mkfifo "$work/$1/server.fifo"
  node -e "$SERVER_JS" "$work/$1/repo" >"$work/$1/server.fifo" 2>>"$work/$1/requests.log" &
  server_pid=$!
  exec 3<"$work/$1/server.fifo"
  local line=""
  IFS= read -r -t 30 line <&3 || true
  url="$(sed -n 's/^serving .* at \(http:[^ ]*\)$/\1/p' <<<"$line")"
  [[ -n "$url" ]] && return 0
  echo "selfcheck: server for $1 did not start" >&2
  exit 1
}

# client <case> [--target P]...: runs tufjs_client.mjs; sets $out and $rc.
client() {
  local c="$1"
  shift
  rc=0
  out="$(node "$here/tufjs_client.mjs" --modules "$modules" \
    --metadata-url "${url}metadata" --target-url "${url}targets" \
    --metadata-dir "$work/$c/client/metadata" --target-dir "$work/$c/client/targets" \
    --root "$work/$c/repo/metadata/1.root.json" "$@" 2>>"$work/$c/client.err")" || rc=$?
}

# js <expr> [arg]: evaluates a JavaScript boolean over r = JSON.parse($out);
# arg is process.argv[3].
js() {
  node -e 'const r = JSON.parse(process.argv[1]); process.exit(eval(process.argv[2]) ? 0 : 1)' \
    "$out" "$1" "${2:-}"
}

# expect_fail <name> <error regex> <case> [make_repo args...]
expect_fail() {
  local name="$1" re="$2" c="$3"
  shift 3
  make_repo "$c" "$@"
  serve "$c"
  client "$c" --target hello.txt
  if ((rc == 1)) && js "!r.ok && new RegExp(process.argv[3]).test(r.error)" "$re" 2>/dev/null; then
    pass "$name: $(node -e 'console.log(JSON.parse(process.argv[1]).error)' "$out")"
  else
    fail "$name: rc=$rc $out"
  fi
  if ls "$work/$c/client/targets/"* >/dev/null 2>&1; then fail "$name: a target was written"; fi
}

echo "tuf-js $(node -p "require('$modules/tuf-js/package.json').version"), @tufjs/models" \
  "$(node -p "require('$modules/@tufjs/models/package.json').version"), node $(node --version)"

# 1. a good repository: both targets, byte-identical, custom carried.
make_repo good
serve good
client good --target hello.txt --target apps/wallet/bundle.atb
if ((rc == 0)) && js 'r.ok && JSON.stringify(r.trusted) === JSON.stringify({root:1,timestamp:1,snapshot:1,targets:1})
    && r.targets.length === 2 && r.targets.every((t) => !t.cached)
    && r.targets[1].custom.kind === "bundle" && r.targets[1].custom.requires.container === ">=3"
    && r.targets[1].file.endsWith("/apps%2Fwallet%2Fbundle.atb")
    && Object.keys(r.targets[0].custom).length === 0'; then
  pass "good repo: ok, trusted versions 1/1/1/1, custom carried, file names URI-encoded"
else
  fail "good repo: rc=$rc $out"
fi
if cmp -s "$work/good/src/hello.txt" "$work/good/client/targets/hello.txt" &&
  cmp -s "$work/good/src/bundle.atb" "$work/good/client/targets/apps%2Fwallet%2Fbundle.atb" &&
  [[ "$(node -p 'JSON.parse(process.argv[1]).targets[1].sha256' "$out")" == \
    "$(sha256sum "$work/good/src/bundle.atb" | cut -d' ' -f1)" ]]; then
  pass "good repo: downloaded targets byte-identical, sha256 reported right"
else
  fail "good repo: downloaded targets differ from the sources"
fi
echo "  requests of the first run:"
sed 's/^/    /' "$work/good/requests.log"
if cmp -s "$work/good/repo/metadata/1.root.json" "$work/good/client/metadata/root.json" &&
  cmp -s "$work/good/repo/metadata/timestamp.json" "$work/good/client/metadata/timestamp.json" &&
  cmp -s "$work/good/repo/metadata/1.snapshot.json" "$work/good/client/metadata/snapshot.json" &&
  cmp -s "$work/good/repo/metadata/1.targets.json" "$work/good/client/metadata/targets.json"; then
  pass "good repo: client persisted repository bytes as root/timestamp/snapshot/targets.json"
else
  fail "good repo: persisted metadata differs from the repository's bytes"
fi

# 2. second run on the same client folders: targets come from the cache.
: >"$work/good/requests.log"
client good --target hello.txt --target apps/wallet/bundle.atb
if ((rc == 0)) && js 'r.ok && r.targets.every((t) => t.cached)' &&
  ! grep -q ' /targets/' "$work/good/requests.log"; then
  pass "second run: targets cached, requests: $(cut -d' ' -f2,3 "$work/good/requests.log" | paste -sd, -)"
else
  fail "second run: rc=$rc $out"
fi

# 3. root rotation and a 2-of-3 root.
make_repo rotated --rotate-root
serve rotated
client rotated --target hello.txt
if ((rc == 0)) && js 'r.ok && r.trusted.root === 2' &&
  cmp -s "$work/rotated/repo/metadata/2.root.json" "$work/rotated/client/metadata/root.json"; then
  pass "rotated root: trusted root 2, stored as root.json"
else
  fail "rotated root: rc=$rc $out"
fi
make_repo multi --root-threshold 2 --root-keys 3 --rotate-root
serve multi
client multi --target apps/wallet/bundle.atb
if ((rc == 0)) && js 'r.ok && r.trusted.root === 2 && r.targets[0].custom.id === "wallet"'; then
  pass "2-of-3 root keys, rotated: ok"
else
  fail "2-of-3 root keys, rotated: rc=$rc $out"
fi

# 4. expected failures.
for role in root timestamp snapshot targets; do
  expect_fail "expired $role" 'expired' "expired-$role" --expire "$role"
done
for role in root timestamp snapshot targets; do
  expect_fail "under-threshold $role" 'signed by 1/2 keys' "under-$role" --under-threshold "$role"
done
expect_fail "under-threshold rotated root (2.root.json)" 'signed by 1/2 keys' under-rotated \
  --rotate-root --under-threshold root
if cmp -s "$work/under-rotated/repo/metadata/1.root.json" \
  "$work/under-rotated/client/metadata/root.json"; then
  pass "under-threshold rotated root: client kept 1.root.json"
else
  fail "under-threshold rotated root: client's root.json changed"
fi

# 5. a substituted target file (same length, other bytes) and an unknown target.
make_repo tampered
stored="$(find "$work/tampered/repo/targets" -name '*.hello.txt')"
printf 'HELLO FROM %s\n' tampered >"$stored"
serve tampered
client tampered --target hello.txt
if ((rc == 1)) && js '!r.ok && /hash/i.test(r.error)' && [[ ! -e "$work/tampered/client/targets/hello.txt" ]]; then
  pass "substituted target refused: $(node -p 'JSON.parse(process.argv[1]).error' "$out")"
else
  fail "substituted target: rc=$rc $out"
fi
client tampered --target no/such.txt
if ((rc == 1)) && js '!r.ok && r.error.startsWith("TargetNotFoundError")'; then
  pass "unknown target refused: $(node -p 'JSON.parse(process.argv[1]).error' "$out")"
else
  fail "unknown target: rc=$rc $out"
fi

stop_server
echo "$passed passed, $failed failed"
((failed == 0))
