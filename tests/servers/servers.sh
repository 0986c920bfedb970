#!/usr/bin/env bash
# servers/<backend>: the three servers answer their real clients on one
# selector backend, over loopback:
#   asyncio-echo   1 MiB of random bytes echoed back intact (every --api)
#   asyncio-http   (each --api) curl GET / and a 404; a pipelined pair on one connection
#                  answered in order; a malformed request gets 400 and the
#                  connection closes, the server keeps serving
#   asyncio-redis  (each --api) redis-cli PING SET GET INCR MGET, a key with a 300 ms
#                  TTL gone after it, malformed input gets a protocol error
#                  and the connection closes, the server keeps serving
#   shutdown       SIGTERM with a live idle client: the client sees EOF
#                  after --grace (0.5 s), the server exits 0
#   --workers 2    two processes answer on one port; SIGTERM to the parent
#                  ends both, exit 0
# Every server is started here and stopped by its PID (also on failure);
# every wait is bounded. Exit 77 (skipped) when the kernel refuses the
# backend.
#
# Usage: tests/servers/servers.sh TOOLS_DIR BACKEND
# Environment: SERVERS_WRAP, a command every server runs under (e.g.
# "valgrind -q --error-exitcode=9": a non-zero exit at SIGTERM fails the
# test and shows the server's output); SERVERS_SLOW, an integer that
# multiplies every bound and the TTL (default 1).
set -uo pipefail
bin=${1:?usage: $0 TOOLS_DIR BACKEND}
backend=${2:?usage: $0 TOOLS_DIR BACKEND}
read -r -a wrap <<<"${SERVERS_WRAP:-}"
slow=${SERVERS_SLOW:-1}
[[ "$slow" =~ ^[1-9][0-9]*$ ]] || { echo "FAIL: SERVERS_SLOW must be a positive integer"; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/servers-test.XXXXXX")
pids=()
declare -A outs # PID -> the server's output file
cleanup() {
    local p
    for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
    rm -rf "$tmp"
}
trap cleanup EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
ok() { echo "ok: $*"; }
for t in python3 curl redis-cli; do
    command -v "$t" >/dev/null || { echo "FAIL: $t not installed (tools/bootstrap test)"; exit 1; }
done

# start NAME ARGS...: runs the server on port 0, sets PORT and PID.
nstarted=0
start() {
    local name=$1 i
    shift
    nstarted=$((nstarted + 1))
    local out="$tmp/$name.$nstarted.out"
    "${wrap[@]}" "$bin/$name" --port 0 --selector "$backend" --grace 0.5 "$@" >"$out" 2>&1 &
    PID=$!
    pids+=("$PID")
    outs[$PID]=$out
    PORT=
    for ((i = 0; i < 100 * slow; i++)); do
        PORT=$(sed -n 's/.*listening on [^:]*:\([0-9]*\) .*/\1/p' "$out" 2>/dev/null)
        [ -n "$PORT" ] && return 0
        if ! kill -0 "$PID" 2>/dev/null; then
            if grep -qiE "selector.*(not supported|operation not permitted|function not implemented|no such backend)" "$out"; then
                echo "skip: backend $backend refused: $(cat "$out")"
                exit 77
            fi
            fail "$name $* did not start: $(cat "$out")"
            return 1
        fi
        sleep 0.05
    done
    fail "$name $*: no port after $((5 * slow)) s"
    return 1
}

# reaped PID: waits for the ended server; its exit status must be 0 (else
# its output is shown).
reaped() {
    local pid=$1 rc
    wait "$pid"
    rc=$?
    [ "$rc" -eq 0 ] && return 0
    fail "pid $pid exited with $rc"
    [ -n "${outs[$pid]:-}" ] && tail -n 40 "${outs[$pid]}"
    return 1
}

# stop PID: SIGTERM, then the exit status must be 0 within 5 s.
stop() {
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null
    for ((i = 0; i < 100 * slow; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    if kill -0 "$pid" 2>/dev/null; then
        fail "pid $pid still running $((5 * slow)) s after SIGTERM"
        kill -KILL "$pid"
    fi
    reaped "$pid"
}

py() { timeout $((20 * slow)) python3 -c "$@"; }

# ---- echo: 1 MiB through each --api
for api in $("$bin/asyncio-echo" --help | sed -n 's/.*which level of the library serves:\(.*\) (default.*/\1/p'); do
    start asyncio-echo --api "$api" || continue
    if py "
import os, socket, sys
data = os.urandom(1 << 20)
s = socket.create_connection(('127.0.0.1', $PORT), timeout=10 * $slow)
s.sendall(data)
s.shutdown(socket.SHUT_WR)
got = bytearray()
while True:
    b = s.recv(65536)
    if not b: break
    got += b
sys.exit(0 if bytes(got) == data else 1)
"; then ok "echo --api $api: 1 MiB echoed intact"; else fail "echo --api $api: 1 MiB not echoed intact"; fi
    stop "$PID"
done

for api in buffered protocol sockets; do
# ---- http
if [ -x "$bin/asyncio-http" ]; then
    start asyncio-http --api "$api" && {
        body=$(curl -s --max-time $((5 * slow)) "http://127.0.0.1:$PORT/")
        [ "$body" = "Hello, World!" ] && ok "http --api $api: curl GET /" || fail "http --api $api: curl GET / gave '$body'"
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time $((5 * slow)) "http://127.0.0.1:$PORT/nope")
        [ "$code" = 404 ] && ok "http --api $api: 404 for /nope" || fail "http --api $api: /nope gave $code"
        py "
import socket, sys
s = socket.create_connection(('127.0.0.1', $PORT), timeout=5 * $slow)
s.sendall(b'GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /x HTTP/1.1\r\nHost: a\r\n\r\n')
got = b''
while got.count(b'HTTP/1.1 ') < 2 or not got.endswith(b'Not Found\n'):
    b = s.recv(4096)
    if not b: break
    got += b
first, second = got.index(b'200 OK'), got.index(b'404 Not Found')
sys.exit(0 if first < second and b'Hello, World!' in got else 1)
" && ok "http --api $api: pipelined pair answered in order" || fail "http --api $api: pipelined pair"
        py "
import socket, sys
s = socket.create_connection(('127.0.0.1', $PORT), timeout=5 * $slow)
s.sendall(b'NOT HTTP AT ALL\r\n\r\n')
got = b''
while True:
    b = s.recv(4096)
    if not b: break
    got += b
sys.exit(0 if got.startswith(b'HTTP/1.1 400 ') and b'Connection: close' in got else 1)
" && ok "http --api $api: malformed request: 400, connection closed" || fail "http --api $api: malformed request"
        body=$(curl -s --max-time $((5 * slow)) "http://127.0.0.1:$PORT/")
        [ "$body" = "Hello, World!" ] && ok "http --api $api: still serving" || fail "http --api $api: not serving after bad input"
        stop "$PID"
    }
fi

# ---- redis
start asyncio-redis --api "$api" && {
    r() { timeout $((5 * slow)) redis-cli -p "$PORT" "$@" 2>&1; }
    [ "$(r PING)" = PONG ] && ok "redis --api $api: PING" || fail "redis --api $api: PING"
    [ "$(r SET k hello)" = OK ] && [ "$(r GET k)" = hello ] && ok "redis --api $api: SET/GET" || fail "redis --api $api: SET/GET"
    [ "$(r INCR n)" = 1 ] && [ "$(r INCR n)" = 2 ] && ok "redis --api $api: INCR" || fail "redis --api $api: INCR"
    [ "$(r MGET k nope n | tr '\n' ,)" = "hello,,2," ] && ok "redis --api $api: MGET" || fail "redis --api $api: MGET gave '$(r MGET k nope n | tr '\n' ,)'"
    # SET and PTTL through one connection (a loaded machine may take longer
    # than the TTL to start the next redis-cli), then gone after it
    pttl=$(printf 'SET t v PX %d\nPTTL t\n' $((300 * slow)) | r | tail -n 1)
    [[ "$pttl" =~ ^[0-9]+$ ]] && [ "$pttl" -gt 0 ] && [ "$pttl" -le $((300 * slow)) ] &&
        sleep $((slow / 2)).$((slow % 2 * 5)) && [ "$(r GET t)" = "" ] &&
        [ "$(r EXISTS t)" = 0 ] &&
        ok "redis --api $api: a 300 ms TTL expires" || fail "redis --api $api: TTL (PTTL right after SET: '$pttl')"
    ttl=$(r SET u v EX 100 >/dev/null; r TTL u)
    [ "$ttl" = 100 ] || [ "$ttl" = 99 ] && ok "redis --api $api: TTL" || fail "redis --api $api: TTL u gave '$ttl'"
    py "
import socket, sys
s = socket.create_connection(('127.0.0.1', $PORT), timeout=5 * $slow)
s.sendall(b'PING\r\n*1\r\n\$x\r\n')
got = b''
while True:
    b = s.recv(4096)
    if not b: break
    got += b
sys.exit(0 if got == b'+PONG\r\n-ERR Protocol error: invalid bulk length\r\n' else 1)
" && ok "redis --api $api: malformed input: protocol error, connection closed" || fail "redis --api $api: malformed input"
    [ "$(r DBSIZE)" = 3 ] && ok "redis --api $api: still serving (DBSIZE 3)" || fail "redis --api $api: DBSIZE $(r DBSIZE)"
    stop "$PID"
}

done

# ---- graceful shutdown with a live client
start asyncio-echo && {
    py "
import os, signal, socket, sys, time
s = socket.create_connection(('127.0.0.1', $PORT), timeout=10 * $slow)
s.sendall(b'x'); assert s.recv(1) == b'x'
t = time.monotonic()
os.kill($PID, signal.SIGTERM)
time.sleep(0.1 * $slow)
try:
    socket.create_connection(('127.0.0.1', $PORT), timeout=2).close()
    sys.exit(2)  # still accepting
except OSError:
    pass
s.sendall(b'y'); assert s.recv(1) == b'y'  # served during the grace period
assert s.recv(1) == b''  # then closed
sys.exit(0 if 0.3 < time.monotonic() - t < 5 * $slow else 3)
" && ok "shutdown: stops accepting, serves, closes after the grace period" || fail "shutdown with a live client (status $?)"
    for ((i = 0; i < 100 * slow; i++)); do kill -0 "$PID" 2>/dev/null || break; sleep 0.05; done
    if kill -0 "$PID" 2>/dev/null; then
        fail "shutdown: still running"
    else
        reaped "$PID" && ok "shutdown: exit 0"
    fi
}

# ---- --workers 2: both answer on one port; SIGTERM to the parent stops all
wport=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"${wrap[@]}" "$bin/asyncio-echo" --port "$wport" --selector "$backend" --workers 2 --grace 0.2 \
    >"$tmp/workers.out" 2>&1 &
PID=$!
pids+=("$PID")
outs[$PID]=$tmp/workers.out
for ((i = 0; i < 100 * slow; i++)); do
    [ "$(grep -c 'listening on' "$tmp/workers.out" 2>/dev/null)" -ge 2 ] 2>/dev/null && break
    sleep 0.05
done
kids=$(sed -n 's/.*pid \([0-9]*\)).*/\1/p' "$tmp/workers.out" | tr '\n' ' ')
pids+=($kids)
if [ "$(wc -w <<<"$kids")" -eq 2 ] && py "
import socket, sys
for i in range(20):
    s = socket.create_connection(('127.0.0.1', $wport), timeout=5 * $slow)
    s.sendall(b'w%d' % i)
    if s.recv(16) != b'w%d' % i: sys.exit(1)
    s.close()
"; then ok "workers 2: two processes answer on one port"; else fail "workers 2: $(cat "$tmp/workers.out")"; fi
stop "$PID"
for k in $kids; do kill -0 "$k" 2>/dev/null && fail "workers: worker $k still running after the parent stopped"; done

echo "servers/$backend: $failures failure(s)"
[ "$failures" -eq 0 ]
