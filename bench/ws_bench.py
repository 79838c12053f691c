#!/usr/bin/env python3
"""WebSocket benchmark for Portcullis (`make bench-ws` -> bench/ws-bench.sh -> this file).

In one run, loopback only, bounded to about a minute:
  1. a raw asyncio WebSocket echo upstream (handshake + echo; light enough to hold 10,000 sockets),
  2. the gateway with one worker and a `websocket: true` route authenticated by a query token,
  3. N idle tunnels (default 10,000) opened by client processes -> gateway RSS before/after -> KiB per tunnel,
  4. echo round trips (small messages, sequential, one connection) direct to the upstream and through the
     gateway, while the idle tunnels are still open -> p50/p99.
Standard library only. Env/flags: --tunnels N, --messages N, --size BYTES, --clients K, PORTCULLIS_BIN.

Sub-commands used internally: `upstream --port P`, `hold --port P --path PATH --count N`.
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import os
import resource
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
SECRET = "portcullis-ws-bench-secret-0123456789abcdef0123"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def raise_nofile(n: int = 200_000) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    for want in (n, hard):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, max(hard, want)))
            break
        except (ValueError, OSError):
            continue
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def b64u(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def mint(ttl: int = 3600) -> str:
    now = int(time.time())
    h = b64u(b'{"alg":"HS256","typ":"JWT"}')
    p = b64u(json.dumps({"sub": "bench", "iat": now, "exp": now + ttl}, separators=(",", ":")).encode())
    s = hmac.new(SECRET.encode(), f"{h}.{p}".encode(), hashlib.sha256).digest()
    return f"{h}.{p}.{b64u(s)}"


def accept(key: bytes) -> bytes:
    return base64.b64encode(hashlib.sha1(key + GUID).digest())


def client_frame(op: int, payload: bytes) -> bytes:
    n = len(payload)
    key = os.urandom(4)
    if n < 126:
        head = struct.pack("!BB", 0x80 | op, 0x80 | n)
    elif n < 65536:
        head = struct.pack("!BBH", 0x80 | op, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | op, 0x80 | 127, n)
    masked = bytes(b ^ key[i & 3] for i, b in enumerate(payload))
    return head + key + masked


def handshake_request(path: str) -> tuple[bytes, bytes]:
    key = base64.b64encode(os.urandom(16))
    return (b"GET " + path.encode() + b" HTTP/1.1\r\nHost: bench\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: " + key + b"\r\nSec-WebSocket-Version: 13\r\n\r\n"), key


# ------------------------------------------------------------------------------------------------
# upstream: raw asyncio echo server
# ------------------------------------------------------------------------------------------------
async def upstream_main(port: int) -> None:
    live = 0

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal live
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            key = b""
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"sec-websocket-key:"):
                    key = line.split(b":", 1)[1].strip()
            writer.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                         b"Sec-WebSocket-Accept: " + accept(key) + b"\r\n\r\n")
            live += 1
            try:
                while True:
                    h = await reader.readexactly(2)
                    op, n = h[0] & 0x0F, h[1] & 0x7F
                    if n == 126:
                        n = struct.unpack("!H", await reader.readexactly(2))[0]
                    elif n == 127:
                        n = struct.unpack("!Q", await reader.readexactly(8))[0]
                    mkey = await reader.readexactly(4) if h[1] & 0x80 else b""
                    data = await reader.readexactly(n)
                    if mkey:
                        data = bytes(b ^ mkey[i & 3] for i, b in enumerate(data))
                    if op == 8:
                        writer.write(b"\x88\x02" + data[:2])
                        break
                    if op in (1, 2):
                        hdr = struct.pack("!BB", 0x80 | op, n) if n < 126 else struct.pack("!BBH", 0x80 | op, 126, n)
                        writer.write(hdr + data)
            finally:
                live -= 1
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    async def control(reader, writer):  # "live?" -> number of upgraded connections
        await reader.readline()
        writer.write(f"{live}\n".encode())
        await writer.drain()
        writer.close()

    srv = await asyncio.start_server(handle, "127.0.0.1", port, backlog=4096)
    ctl = await asyncio.start_server(control, "127.0.0.1", port + 1 if port < 65535 else 0)
    print(json.dumps({"port": port, "control": ctl.sockets[0].getsockname()[1]}), flush=True)
    await asyncio.gather(srv.serve_forever(), ctl.serve_forever())


def upstream_live(ctl_port: int) -> int:
    with socket.create_connection(("127.0.0.1", ctl_port), timeout=5) as s:
        s.sendall(b"live?\n")
        return int(s.makefile().readline())


# ------------------------------------------------------------------------------------------------
# hold: open N idle tunnels and keep them until stdin closes
# ------------------------------------------------------------------------------------------------
async def hold_main(port: int, path: str, count: int, concurrency: int = 200) -> None:
    sem = asyncio.Semaphore(concurrency)
    conns = []
    failures = []

    async def one():
        async with sem:
            for attempt in range(3):
                try:
                    r, w = await asyncio.open_connection("127.0.0.1", port)
                    req, key = handshake_request(path)
                    w.write(req)
                    head = await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), 20)
                    if not head.startswith(b"HTTP/1.1 101") or accept(key) not in head:
                        raise RuntimeError(head.split(b"\r\n")[0].decode())
                    conns.append((r, w))
                    return
                except Exception as e:  # noqa: BLE001
                    if attempt == 2:
                        failures.append(repr(e))
                    await asyncio.sleep(0.2)

    t0 = time.monotonic()
    await asyncio.gather(*(one() for _ in range(count)))
    print(json.dumps({"open": len(conns), "failed": len(failures), "errors": failures[:3],
                      "secs": time.monotonic() - t0}), flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)  # until the parent closes our stdin
    for _, w in conns:
        w.close()


# ------------------------------------------------------------------------------------------------
# round trips
# ------------------------------------------------------------------------------------------------
def rtt(port: int, path: str, messages: int, size: int, warmup: int = 200) -> list[float]:
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    req, key = handshake_request(path)
    s.sendall(req)
    buf = b""
    while b"\r\n\r\n" not in buf:
        buf += s.recv(4096)
    head, _, buf = buf.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 101"):
        raise RuntimeError(f"handshake to {port}{path}: {head[:200]!r}")
    payload = os.urandom(size)
    frame = client_frame(2, payload)
    want = (2 if size < 126 else 4) + size
    out = []
    for i in range(warmup + messages):
        t0 = time.perf_counter_ns()
        s.sendall(frame)
        while len(buf) < want:
            buf += s.recv(65536)
        t1 = time.perf_counter_ns()
        if buf[want - size:want] != payload:
            raise RuntimeError("echo mismatch")
        buf = buf[want:]
        if i >= warmup:
            out.append((t1 - t0) / 1000)
    s.sendall(client_frame(8, b"\x03\xe8"))
    s.close()
    return out


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


# ------------------------------------------------------------------------------------------------
# orchestration
# ------------------------------------------------------------------------------------------------
def proc_kib(pid: int, key: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        for ln in f:
            if ln.startswith(key + ":"):
                return int(ln.split()[1])
    return -1


def nofile(pid: int) -> int:
    with open(f"/proc/{pid}/limits") as f:
        for ln in f:
            if ln.startswith("Max open files"):
                return int(ln.split()[3]) if ln.split()[3] != "unlimited" else 1 << 30
    return -1


def wait_port(port: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"port {port} not listening")


def main() -> int:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd")
    u = sub.add_parser("upstream")
    u.add_argument("--port", type=int, required=True)
    h = sub.add_parser("hold")
    h.add_argument("--port", type=int, required=True)
    h.add_argument("--path", required=True)
    h.add_argument("--count", type=int, required=True)
    ap.add_argument("--tunnels", type=int, default=int(os.environ.get("TUNNELS", 10_000)))
    ap.add_argument("--messages", type=int, default=int(os.environ.get("MESSAGES", 2000)))
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--clients", type=int, default=2)
    ap.add_argument("--target-kib", type=float, default=20.0)
    args = ap.parse_args()

    limit = raise_nofile()
    if args.cmd == "upstream":
        asyncio.run(upstream_main(args.port))
        return 0
    if args.cmd == "hold":
        asyncio.run(hold_main(args.port, args.path, args.count))
        return 0

    binary = os.environ.get("PORTCULLIS_BIN") or os.path.join(ROOT, ".build", "release", "portcullis")
    if not os.access(binary, os.X_OK):
        print(f"ws-bench: {binary} not found (swift build -c release --product portcullis)", file=sys.stderr)
        return 1
    requested = args.tunnels
    # the gateway holds two sockets per tunnel; without CAP_SYS_RESOURCE the hard limit may be below that
    if limit < args.tunnels * 2 + 200:
        args.tunnels = max(100, (limit - 200) // 2)

    work = tempfile.mkdtemp(prefix="ws-bench-")
    procs: list[subprocess.Popen] = []

    def cleanup():
        for p in reversed(procs):
            if p.poll() is None:
                try:
                    if p.stdin:
                        p.stdin.close()
                except OSError:
                    pass
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()

    try:
        # 1. upstream
        up_port = free_port()
        up = subprocess.Popen([sys.executable, __file__, "upstream", "--port", str(up_port)],
                              stdout=subprocess.PIPE, text=True)
        procs.append(up)
        ctl_port = json.loads(up.stdout.readline())["control"]

        # 2. gateway
        gw_port = free_port()
        conf = os.path.join(work, "gateway.conf")
        with open(conf, "w") as f:
            f.write(f"""workers: 1
listen:
  - address: "127.0.0.1:{gw_port}"
log: {{ access: false }}
limits:
  max_connections: {args.tunnels + 2000}
  max_tunnels: {args.tunnels + 1000}
keys:
  bench: {{ algorithms: [HS256], secret: {{ value: "{SECRET}" }} }}
upstreams:
  echo: {{ servers: ["http://127.0.0.1:{up_port}"] }}
routes:
  - name: ws
    match: {{ path_prefix: /ws }}
    upstream: echo
    websocket: true
    auth: {{ keys: [bench], tokens: [ {{ query: access_token }} ] }}
""")
        gw = subprocess.Popen([binary, "run", "--config", conf], stdout=subprocess.DEVNULL,
                              stderr=open(os.path.join(work, "gateway.stderr"), "wb"))
        procs.append(gw)
        wait_port(gw_port)
        gw_limit = nofile(gw.pid)
        if gw_limit < args.tunnels * 2 + 100:
            print(f"ws-bench: the gateway's fd limit is {gw_limit}, too low for {args.tunnels} tunnels", file=sys.stderr)
            return 1
        path = f"/ws/bench?access_token={mint()}"

        # warm-up: a few tunnels and round trips, so one-time allocations are in the baseline
        rtt(gw_port, path, 200, args.size, warmup=0)
        time.sleep(0.5)
        rss0 = proc_kib(gw.pid, "VmRSS")

        # 3. idle tunnels
        per = [args.tunnels // args.clients + (1 if i < args.tunnels % args.clients else 0) for i in range(args.clients)]
        holders = []
        t0 = time.monotonic()
        for n in per:
            p = subprocess.Popen([sys.executable, __file__, "hold", "--port", str(gw_port), "--path", path,
                                  "--count", str(n)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            procs.append(p)
            holders.append(p)
        reports = [json.loads(p.stdout.readline()) for p in holders]
        t_open = time.monotonic() - t0
        opened = sum(r["open"] for r in reports)
        time.sleep(1.0)
        rss1 = proc_kib(gw.pid, "VmRSS")
        fds = len(os.listdir(f"/proc/{gw.pid}/fd"))
        live = upstream_live(ctl_port)

        # 4. round trips, with the idle tunnels still open
        direct = rtt(up_port, "/ws/direct", args.messages, args.size)
        through = rtt(gw_port, path, args.messages, args.size)
        direct2 = rtt(up_port, "/ws/direct", args.messages, args.size)
        through2 = rtt(gw_port, path, args.messages, args.size)
        direct += direct2
        through += through2
        hwm = proc_kib(gw.pid, "VmHWM")

        for p in holders:
            p.stdin.close()
        for p in holders:
            p.wait(30)
        time.sleep(1.0)
        rss2 = proc_kib(gw.pid, "VmRSS")
        fds2 = len(os.listdir(f"/proc/{gw.pid}/fd"))

        per_tunnel = (rss1 - rss0) / max(opened, 1)
        verdict = "OK" if per_tunnel <= args.target_kib and opened == args.tunnels else "OVER TARGET"
        if opened != args.tunnels:
            verdict = f"ONLY {opened} OPENED"
        print()
        print(f"Portcullis WebSocket bench  (1 worker, loopback, {os.cpu_count()} cores, binary {binary})")
        if requested != args.tunnels:
            print(f"  NOTE: {requested} tunnels requested; the fd limit ({limit}) allows {args.tunnels}")
        print(f"  idle tunnels        {opened:>7} of {args.tunnels} opened in {t_open:.1f} s "
              f"(upstream holds {live}, gateway fds {fds})")
        errs = [e for r in reports for e in r["errors"]]
        if errs:
            print(f"  open failures       {sum(r['failed'] for r in reports)}: {errs}")
        print(f"  gateway RSS         {rss0 / 1024:7.1f} MiB before, {rss1 / 1024:7.1f} MiB with the tunnels, "
              f"{rss2 / 1024:7.1f} MiB after closing (fds {fds2}); peak {hwm / 1024:.1f} MiB")
        print(f"  per idle tunnel     {per_tunnel:7.1f} KiB   (target <= {args.target_kib:g} KiB): {verdict}")
        print()
        print(f"  echo round trip, {args.size} B binary messages, {len(direct)} sequential per path, "
              f"{opened} idle tunnels open")
        print(f"  {'path':<22}{'p50 us':>10}{'p99 us':>10}{'mean us':>10}{'max us':>10}")
        for name, xs in (("direct to upstream", direct), ("through portcullis", through)):
            print(f"  {name:<22}{pct(xs, 50):10.1f}{pct(xs, 99):10.1f}{statistics.fmean(xs):10.1f}{max(xs):10.1f}")
        print(f"  {'added by portcullis':<22}{pct(through, 50) - pct(direct, 50):+10.1f}"
              f"{pct(through, 99) - pct(direct, 99):+10.1f}{statistics.fmean(through) - statistics.fmean(direct):+10.1f}")
        if gw.poll() is not None:
            print(f"ws-bench: the gateway exited ({gw.returncode})", file=sys.stderr)
            return 1
        return 0
    finally:
        cleanup()


if __name__ == "__main__":
    sys.exit(main())
