#!/usr/bin/env bash
# `npm test`: everything CI runs, on a clean clone or a developer's machine.
#  1. system packages the tests start (Chromium, Firefox ESR, nginx, squid, redis-server, redis-sentinel, coturn,
#     openssl, jq, curl; for the namespace network of test/proxies/corporate.test.ts: iproute2, nftables,
#     libnss3-tools for certutil, libnginx-mod-stream for nginx's SNI routing), from apt, when missing
#  2. npm dependencies when node_modules is missing or older than the lock file
#  3. the web bundle, a type-check of server, web and tests, the import-cycle check, then every tap test
#  4. two lanes on the other Node LTS lines, 22 and 24 (Node binaries from the npm registry, test/node-lines/):
#     the package test, a server suite and the client, under each (with files given: those of them that are
#     lane files; NODE_LANES="" skips the lanes, NODE_LANES=22 runs one)
# It ends with one line "N passed, N failed" (N counts test cases: the t.test blocks of every file, the
# lanes' included).
set -uo pipefail
cd "$(dirname "$0")/.."

need=()
for pair in chromium:chromium firefox-esr:firefox-esr nginx:nginx-light squid:squid redis-server:redis-server redis-sentinel:redis-sentinel turnserver:coturn openssl:openssl jq:jq curl:curl ip:iproute2 nft:nftables certutil:libnss3-tools; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || [ -x "/usr/sbin/${pair%%:*}" ] || need+=("${pair#*:}")
done
[ -e /usr/lib/nginx/modules/ngx_stream_module.so ] || need+=(libnginx-mod-stream)
if [ ${#need[@]} -gt 0 ]; then
  echo "Installing system packages: ${need[*]}"
  if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null \
    || { echo "could not install ${need[*]}"; echo "0 passed, 1 failed"; exit 1; }
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 PUPPETEER_SKIP_DOWNLOAD=1 npm ci --no-audit --no-fund || { echo "0 passed, 1 failed"; exit 1; }
fi

npm run --silent build || { echo "build (web bundle, server) failed"; echo "0 passed, 1 failed"; exit 1; }
npx tsc --noEmit -p tsconfig.json || { echo "type-check failed"; echo "0 passed, 1 failed"; exit 1; }
node scripts/check-cycles.mjs || { echo "import cycle"; echo "0 passed, 1 failed"; exit 1; }

export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 PUPPETEER_SKIP_DOWNLOAD=1
mkdir -p .tap
# test/package/pack.test.ts packs the package once into this folder; the lanes install the same tarball.
export SIGPOST_PACK_DIR="$PWD/.tap/pack"
rm -rf "$SIGPOST_PACK_DIR" .tap/node-*.tap

# The lanes: files whose outcome could differ by Node version (the installed package, the server, the
# client in Node), sized to add about a minute. With SIGPOST_NODE_LANE set, their cases that cannot differ
# by Node (npm's file list, tsc, the manifest, a browser bundle, squid's answers) are skipped there.
lane_files=(test/package/pack.test.ts test/package/setup.test.ts test/server/sessions.test.ts test/web/signal-client.test.ts)
lane_args=("${lane_files[@]}")
if [ $# -gt 0 ]; then
  lane_args=()
  for arg in "$@"; do
    for file in "${lane_files[@]}"; do [ "$arg" = "$file" ] && lane_args+=("$file"); done
  done
fi
lanes=${NODE_LANES-22 24}
if [ -n "$lanes" ] && [ "$(uname -sm)" != "Linux x86_64" ]; then
  lanes_skipped="the registry's Node binaries (test/node-lines) are for Linux x86_64"
elif [ -n "$lanes" ] && [ ${#lane_args[@]} -eq 0 ]; then
  lanes_skipped="none of the given files is a lane file (${lane_files[*]})"
elif [ -z "$lanes" ]; then
  lanes_skipped="NODE_LANES is empty"
fi
[ -n "${lanes_skipped:-}" ] && lanes=""
lines_install=""
if [ -n "$lanes" ] && { [ ! -d test/node-lines/node_modules ] || [ test/node-lines/package-lock.json -nt test/node-lines/node_modules/.package-lock.json ]; }; then
  # Their download (about 100 MB, 370 MB unpacked) overlaps the main run.
  npm ci --prefix test/node-lines --no-audit --no-fund >.tap/node-lines-install.log 2>&1 &
  lines_install=$!
fi

npx tap --reporter=tap "$@" | tee .tap/last.tap
status=${PIPESTATUS[0]}

if [ -n "${lanes_skipped:-}" ]; then
  echo "Node lanes skipped: $lanes_skipped"
elif [ -n "$lines_install" ] && ! wait "$lines_install"; then
  cat .tap/node-lines-install.log
  echo "could not install Node $lanes (test/node-lines)"
  echo "not ok 1 - Node lanes: not installed" > .tap/node-lanes.tap
  status=1
  lanes=""
fi
for line in $lanes; do
  bin="$PWD/test/node-lines/node_modules/node-$line/bin"
  started=$SECONDS
  echo "Node $line lane ($("$bin/node" --version)): ${lane_args[*]}"
  PATH="$bin:$PATH" SIGPOST_NODE_LANE=$line npx tap --reporter=tap "${lane_args[@]}" | tee ".tap/node-$line.tap"
  lane_status=${PIPESTATUS[0]}
  echo "Node $line lane: exit $lane_status, $((SECONDS - started)) s"
  [ "$lane_status" = 0 ] || status=$lane_status
done

outputs=(.tap/last.tap)
for file in .tap/node-*.tap; do [ -e "$file" ] && outputs+=("$file"); done
node scripts/tap-summary.mjs "${outputs[@]}" | tee .tap/summary
exit "$status"
