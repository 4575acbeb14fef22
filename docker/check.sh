#!/usr/bin/env bash
# What can be checked of the image without a Docker engine (CI runs this; see README "Container"):
#  1. the Dockerfile parses and validates (dockerfile-utils, the VS Code Docker extension's linter);
#  2. compose.yaml is valid (docker-compose config) and the Caddyfile too (caddy validate), when
#     those tools are installed;
#  3. the runtime stage, rebuilt by hand: the build's node_modules pruned to production (npm prune
#     --omit=dev, as the Dockerfile does) plus dist/, config/, views/, public/ in an empty folder,
#     run from another working directory by the image's entry point: migrate, admin, config-check,
#     serve with /livez and /readyz, healthcheck, and SIGTERM exiting 0.
# Needs `npm run build` first, PostgreSQL on 127.0.0.1:5432 and Redis on 127.0.0.1:6379.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

echo "-- Dockerfile"
npx --no-install dockerfile-utils lint docker/Dockerfile
grep -q '^FROM node:24' docker/Dockerfile
grep -q '^USER node' docker/Dockerfile
grep -q '^HEALTHCHECK' docker/Dockerfile

echo "-- compose.yaml"
if command -v docker-compose >/dev/null; then
  MONBAN_SECRET=check docker-compose -f docker/compose.yaml config -q
else
  echo "docker-compose not installed: compose.yaml not validated"
fi
echo "-- Caddyfile"
if command -v caddy >/dev/null; then
  # Read whole before grep: `grep -q` stops at the first match and caddy, still writing, would end
  # with SIGPIPE, which pipefail turns into a failure.
  validated=$(caddy validate --config docker/Caddyfile --adapter caddyfile 2>&1)
  grep -q 'Valid configuration' <<<"$validated"
else
  echo "caddy not installed: Caddyfile not validated"
fi

echo "-- runtime stage"
stage=$(mktemp -d)
db="monban_image_$$"
server=""
cleanup() {
  local status=$?
  if [ "$status" -ne 0 ]; then
    # Whatever failed, the server's own lines say why (they go with the stage folder otherwise).
    for log in "$stage"/*.log "$stage"/*.err; do [ -s "$log" ] && { echo "--- $log"; tail -n 40 "$log"; }; done
  fi
  [ -n "$server" ] && kill "$server" 2>/dev/null || true
  psql -h 127.0.0.1 -U postgres -d test -qc "drop database if exists $db with (force)" >/dev/null 2>&1 || true
  rm -rf "$stage"
}
trap cleanup EXIT
cp package.json package-lock.json "$stage/"
cp -a node_modules dist config views public "$stage/"
(cd "$stage" && npm prune --omit=dev --omit=optional --no-audit --no-fund >/dev/null 2>&1)
for dev in tsx typescript jest ts-jest node .bin/node; do
  if [ -e "$stage/node_modules/$dev" ]; then echo "development dependency $dev in the runtime stage"; exit 1; fi
done
psql -h 127.0.0.1 -U postgres -d test -qc "create database $db" >/dev/null
export NODE_ENV=production DATABASE_URL="postgres://postgres@127.0.0.1:5432/$db" REDIS_URL=redis://127.0.0.1:6379 \
  MONBAN_SECRET=$(head -c 32 /dev/urandom | base64) MONBAN_REDIS_KEY_PREFIX="monban-image-$$:" PORT=3918 \
  ISSUER=http://localhost:3918 LOG_LEVEL=warn MIGRATE_ON_START=false DATA_DIR="$stage/data" \
  NODE_OPTIONS=--max-semi-space-size=16
# As in the image: the entry point from another working directory.
monban() { (cd / && exec node "$stage/dist/src/cli/monban.js" "$@"); }

if monban serve >"$stage/behind.log" 2>&1; then echo "serve started on an unmigrated database"; exit 1; fi
grep -q 'schema is behind' "$stage/behind.log"
[[ $(monban migrate) == applied:* ]]
[[ $(monban migrate) == "already up to date" ]]
monban admin client create --name Image --redirect-uri https://app.example.com/cb >"$stage/client.json"
grep -q client_secret "$stage/client.json"
monban admin client list >"$stage/clients.json"
grep -q '"Image"' "$stage/clients.json"
monban config-check >"$stage/config.out" 2>"$stage/config.err"
grep -q '"secret": "\*\*\*\*\*\*\*\*"' "$stage/config.out"
if grep -q "$MONBAN_SECRET" "$stage/config.out"; then echo "config-check printed the secret"; exit 1; fi
grep -q 'warning: ISSUER is http://localhost:3918' "$stage/config.err"
(cd / && LOG_LEVEL=info exec node "$stage/dist/src/cli/monban.js" serve) >"$stage/serve.log" 2>&1 &
server=$!
for _ in $(seq 1 60); do curl -fsS http://127.0.0.1:3918/livez >/dev/null 2>&1 && break; sleep 0.5; done
curl -fsS http://127.0.0.1:3918/livez
curl -fsS http://127.0.0.1:3918/readyz
monban healthcheck
kill -TERM "$server"
stopped=0
wait "$server" || stopped=$?
server=""
if [ "$stopped" -ne 0 ]; then echo "serve exited with $stopped on SIGTERM"; exit 1; fi
grep -q '"msg":"stopped"' "$stage/serve.log"
echo
echo "image checks passed"
