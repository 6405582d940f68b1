#!/usr/bin/env bash
# The README's Quick start, done as a newcomer on a fresh machine would, in the
# hardest common place: as root, in a private folder (mode 0700, like /root or
# a `mktemp -d`). Clones the repository (this checkout's, or the one given),
# runs `npm install` and `npm start`, waits for /readyz, calls the API with the
# first start's key, stops with SIGTERM and checks nothing is left running.
# Slow (a full npm install from the registry): run it by hand, not in npm test.
#
#   scripts/newcomer.sh [repository]      PORT / EMBEDDED_PG_PORT: default free ones
set -euo pipefail
repo=${1:-$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel)}
free_port() { node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }
export PORT=${PORT:-$(free_port)} EMBEDDED_PG_PORT=${EMBEDDED_PG_PORT:-$(free_port)}

home=$(mktemp -d) # 0700
chmod 700 "$home"
npm_pid=
cleanup() {
  [ -n "$npm_pid" ] && kill -KILL "$npm_pid" 2>/dev/null || true
  # A cluster moved out of the private folder lives where its symlink points.
  if [ -L "$home/hookline/data/pg" ]; then rm -rf "$(dirname "$(readlink "$home/hookline/data/pg")")"; fi
  rm -rf "$home"
}
trap cleanup EXIT

echo "== cloning $repo into $home (mode $(stat -c %a "$home")) as $(id -un)"
git clone --quiet "$repo" "$home/hookline"
cd "$home/hookline"

echo "== npm install"
npm install --no-audit --no-fund

echo "== npm start (PORT $PORT, EMBEDDED_PG_PORT $EMBEDDED_PG_PORT)"
npm start >"$home/start.log" 2>&1 &
npm_pid=$!
for _ in $(seq 1 300); do
  if curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null; then break; fi
  if ! kill -0 "$npm_pid" 2>/dev/null; then cat "$home/start.log"; echo "npm start exited"; exit 1; fi
  sleep 1
done
curl -sf "http://127.0.0.1:$PORT/readyz" || { cat "$home/start.log"; echo "not ready"; exit 1; }
echo

# stdout is not a terminal here, so the key is in a 0600 file the log names.
key=$(sed -n 's/.*API key *\(hl_[^ ]*\).*/\1/p' data/bootstrap-api-key.txt)
curl -sf -H "Authorization: Bearer $key" "http://127.0.0.1:$PORT/v1/workspace" >/dev/null
echo "== the first key works"

postmaster=$(head -1 data/pg/postmaster.pid)
kill -TERM "$npm_pid"
wait "$npm_pid" && code=0 || code=$?
npm_pid=
for _ in $(seq 1 60); do kill -0 "$postmaster" 2>/dev/null || break; sleep 1; done
if kill -0 "$postmaster" 2>/dev/null; then echo "PostgreSQL $postmaster still runs"; exit 1; fi
grep -q '"msg":"stopped"' "$home/start.log" || { cat "$home/start.log"; echo "no graceful stop"; exit 1; }
echo "== SIGTERM to npm: exit $code, Hookline and its PostgreSQL stopped"
[ "$code" = 0 ]
echo "newcomer: OK"
