#!/usr/bin/env bash
# `npm test`: everything CI runs, on a clean clone or a developer's machine.
#  1. system packages the tests start (Chromium, Firefox ESR, nginx, squid, redis-server, redis-sentinel, coturn,
#     openssl, jq, curl; for the namespace network of test/proxies/corporate.test.ts: iproute2, nftables,
#     libnss3-tools for certutil, libnginx-mod-stream for nginx's SNI routing), from apt, when missing
#  2. npm dependencies when node_modules is missing or older than the lock file
#  3. the web bundle, a type-check of server, web and tests, the import-cycle check, then every tap test
# It ends with one line "N passed, N failed" (N counts test cases: the t.test blocks of every file).
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
npx tap --reporter=tap "$@" | tee .tap/last.tap
status=${PIPESTATUS[0]}
node scripts/tap-summary.mjs .tap/last.tap | tee .tap/summary
exit "$status"
