"""Helpers for the WebSocket black-box tests (test_ws_*.py).

* token minting (HS256, hand-rolled so the bytes are exactly what a test wants);
* route files with a `keys:` section (built on gwconf.config);
* upstream peers that run in a background asyncio loop inside the test process, so tests can read what they
  recorded directly:
    - WSUpstream:  a real `websockets` server (echo, subprotocol choice, records close frames it received);
    - RawWSUpstream: a hand-written server for what a library will not do (answer 200/403/bogus subprotocol,
      stream frames slowly, flood, stop reading);
    - SioServer:   a python-socketio (aiohttp) server that counts the CONNECT packets it receives;
* a raw WebSocket client (handshake + strict frame reader) for byte-level checks.
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import socket
import struct
import threading
import time
import urllib.parse

import gwconf
import pytest

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
SECRET = "portcullis-ws-blackbox-secret-0123456789abcdef"
REALM = "ws-test"


# ------------------------------------------------------------------------------------------------
# tokens
# ------------------------------------------------------------------------------------------------
def b64u(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def mint(secret: str = SECRET, ttl: float | None = 600, exp: int | None = None, alg: str = "HS256",
         **claims) -> str:
    now = int(time.time())
    payload = {"sub": "ws-user", "iat": now}
    if exp is not None:
        payload["exp"] = int(exp)
    elif ttl is not None:
        payload["exp"] = int(now + ttl)
    payload.update(claims)
    head = b64u(json.dumps({"alg": alg, "typ": "JWT"}, separators=(",", ":")).encode())
    body = b64u(json.dumps(payload, separators=(",", ":")).encode())
    sig = hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64u(sig)}"


def bad_signature(token: str) -> str:
    h, p, s = token.split(".")
    return f"{h}.{p}.{b64u(b'x' * 32)}"


# ------------------------------------------------------------------------------------------------
# route files
# ------------------------------------------------------------------------------------------------
def config(upstreams: dict[str, int], routes: str, *, limits: dict | None = None, workers: int = 2) -> str:
    ups = "".join(f'  {name}: {{ servers: ["http://127.0.0.1:{port}"] }}\n' for name, port in upstreams.items())
    lim = {"max_connections": 5000, "upstream_timeout": "5s", "idle_timeout": "30s"}
    lim.update(limits or {})
    text = gwconf.config(0, workers=workers, limits=lim, routes=routes, upstreams=ups)
    return text + ("keys:\n"
                   f'  ws: {{ algorithms: [HS256], secret: {{ value: "{SECRET}" }} }}\n')


def auth_block(tokens: str, extra: str = "") -> str:
    return f"{{ keys: [ws], realm: {REALM}, tokens: {tokens}{', ' + extra if extra else ''} }}"


# ------------------------------------------------------------------------------------------------
# a background asyncio loop
# ------------------------------------------------------------------------------------------------
class LoopThread:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def run(self, coro, timeout: float = 30):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def call(self, fn, *a):
        async def f():
            return fn(*a)
        return self.run(f())

    def stop(self) -> None:
        async def cancel_all():
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        try:
            self.run(cancel_all(), timeout=5)
        except Exception:  # noqa: BLE001
            pass
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def wait_for(pred, timeout: float = 5.0, interval: float = 0.02):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() > deadline:
            return v
        time.sleep(interval)


# ------------------------------------------------------------------------------------------------
# WSUpstream: a real `websockets` server
# ------------------------------------------------------------------------------------------------
class WSUpstream:
    """websockets server. Paths:
       /echo...           echo every message (text stays text, binary stays binary)
       /push?n=N&size=S   send N binary messages of S bytes, then echo
       anything else      echo
    Every connection is recorded: path, request headers, offered and chosen subprotocols, messages
    received, and the close frame it received (code, reason)."""

    def __init__(self) -> None:
        import websockets.asyncio.server as wss
        self.lt = LoopThread()
        self.records: list[dict] = []
        self.active = 0

        def select_subprotocol(conn, offered):
            q = urllib.parse.parse_qs(urllib.parse.urlsplit(conn.request.path).query)
            if "choose" in q:
                return q["choose"][0]
            for p in offered:  # the client's first known protocol
                if p in ("chat", "v2.chat"):
                    return p
            return None

        async def start():
            return await wss.serve(self._handler, "127.0.0.1", 0, max_size=None, compression=None,
                                   ping_interval=None, select_subprotocol=select_subprotocol,
                                   max_queue=64, write_limit=1 << 20)
        self.server = self.lt.run(start())
        self.port = self.server.sockets[0].getsockname()[1]

    def _rec(self, ws) -> dict:
        req = ws.request
        offered = []
        for v in req.headers.get_all("Sec-WebSocket-Protocol"):
            offered += [p.strip() for p in v.split(",") if p.strip()]
        rec = {"path": req.path, "headers": list(req.headers.raw_items()), "offered": offered,
               "chosen": ws.subprotocol, "received": 0, "close_code": None, "close_reason": None,
               "closed": False, "t_open": time.monotonic(), "t_close": None}
        self.records.append(rec)
        return rec

    async def _handler(self, ws) -> None:
        rec = self._rec(ws)
        self.active += 1
        try:
            u = urllib.parse.urlsplit(ws.request.path)
            q = urllib.parse.parse_qs(u.query)
            if "/push" in u.path:
                n, size = int(q.get("n", ["1"])[0]), int(q.get("size", ["1024"])[0])
                for i in range(n):
                    await ws.send(bytes([i & 0xFF]) * size)
            async for msg in ws:
                rec["received"] += 1
                await ws.send(msg)
        except Exception as e:  # noqa: BLE001 - record, do not crash the server
            rec["error"] = repr(e)
        finally:
            self.active -= 1
            rcvd = ws.protocol.close_rcvd
            if rcvd is not None:
                rec["close_code"], rec["close_reason"] = rcvd.code, rcvd.reason
            rec["closed"] = True
            rec["t_close"] = time.monotonic()

    def records_copy(self) -> list[dict]:
        return self.lt.call(lambda: [dict(r) for r in self.records])

    def reset(self) -> None:
        self.lt.call(self.records.clear)

    def stop(self) -> None:
        try:
            self.server.close()
            self.lt.run(self.server.wait_closed(), timeout=5)
        except Exception:  # noqa: BLE001
            pass
        self.lt.stop()


# ------------------------------------------------------------------------------------------------
# frames
# ------------------------------------------------------------------------------------------------
OP_CONT, OP_TEXT, OP_BIN, OP_CLOSE, OP_PING, OP_PONG = 0, 1, 2, 8, 9, 10


def encode_frame(opcode: int, payload: bytes, mask: bool, fin: bool = True) -> bytes:
    b0 = (0x80 if fin else 0) | opcode
    n = len(payload)
    mbit = 0x80 if mask else 0
    if n < 126:
        head = struct.pack("!BB", b0, mbit | n)
    elif n < 65536:
        head = struct.pack("!BBH", b0, mbit | 126, n)
    else:
        head = struct.pack("!BBQ", b0, mbit | 127, n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + apply_mask(payload, key)


def apply_mask(payload: bytes, key: bytes) -> bytes:
    if not payload:
        return b""
    n = len(payload)
    k = int.from_bytes((key * (n // 4 + 1))[:n], "big")
    return (int.from_bytes(payload, "big") ^ k).to_bytes(n, "big")


def close_payload(code: int, reason: str = "") -> bytes:
    return struct.pack("!H", code) + reason.encode()


def parse_close(payload: bytes) -> tuple[int | None, str]:
    if len(payload) < 2:
        return None, ""
    return struct.unpack("!H", payload[:2])[0], payload[2:].decode("utf-8", "replace")


def accept_key(key: str) -> str:
    return base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()


class StreamFrames:
    """Strict frame reader over an asyncio StreamReader."""

    def __init__(self, reader: asyncio.StreamReader, expect_masked: bool):
        self.r = reader
        self.expect_masked = expect_masked

    async def read(self):
        h = await self.r.readexactly(2)
        fin, rsv, op = h[0] >> 7, (h[0] >> 4) & 7, h[0] & 0xF
        masked, n = h[1] >> 7, h[1] & 0x7F
        if n == 126:
            n = struct.unpack("!H", await self.r.readexactly(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", await self.r.readexactly(8))[0]
        if bool(masked) != self.expect_masked:
            raise ValueError(f"frame mask bit {masked}, expected {self.expect_masked}")
        key = await self.r.readexactly(4) if masked else None
        payload = await self.r.readexactly(n)
        if key:
            payload = apply_mask(payload, key)
        return fin, rsv, op, payload


# ------------------------------------------------------------------------------------------------
# RawWSUpstream: what a library will not do
# ------------------------------------------------------------------------------------------------
def pattern_frame_payload(i: int, size: int) -> bytes:
    """Payload of the i-th streamed frame: recognisable, and every frame differs."""
    head = struct.pack("!I", i)
    return (head + bytes([(i * 7 + 1) & 0xFF])) * (size // 5) + b"\0" * (size % 5)


class RawWSUpstream:
    """Paths (query parameters in brackets):
       /status?code=N        answer N with a small JSON body (no 101)
       /proto?choose=P       101 choosing subprotocol P whatever was offered, then echo
       /slowframes?size=S&chunk=C&delay=D   101, then send binary frames of S bytes forever, each written
                             C bytes at a time with D seconds between writes (frame i = pattern_frame_payload)
       /flood?size=S         101, then send binary frames of S bytes as fast as the socket takes them
       /sink?read=0          101, then never read (read=1: read and record, never answer)
       /halfclose            101, read until EOF, then send a text frame "after-eof" and close
                             (0.2 s later; at once with ?now=1)
       /echo (default)       101, then echo frames
    Every connection records: path, headers, frames sent (count, bytes written to the socket), and the
    frames it received (opcode, length, close code/reason)."""

    def __init__(self) -> None:
        self.lt = LoopThread()
        self.records: list[dict] = []

        async def start():
            return await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.server = self.lt.run(start())
        self.port = self.server.sockets[0].getsockname()[1]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        rec = {"path": None, "headers": [], "sent_frames": 0, "sent_bytes": 0, "received": [],
               "close_code": None, "close_reason": None, "eof": False, "error": None}
        self.records.append(rec)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            hdrs = [tuple(x.strip() for x in ln.split(":", 1)) for ln in lines[1:] if ln]
            rec["path"], rec["headers"] = target, hdrs
            u = urllib.parse.urlsplit(target)
            q = {k: v[0] for k, v in urllib.parse.parse_qs(u.query).items()}
            key = next((v for k, v in hdrs if k.lower() == "sec-websocket-key"), "")
            if "/status" in u.path:
                code = int(q.get("code", "200"))
                body = json.dumps({"upstream": "raw", "code": code}).encode()
                writer.write(f"HTTP/1.1 {code} Whatever\r\nContent-Type: application/json\r\n"
                             f"X-Raw-Upstream: 1\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
                await writer.drain()
                # keep the connection open a little like a keep-alive server would, then close
                try:
                    await asyncio.wait_for(reader.read(1), 2)
                except asyncio.TimeoutError:
                    pass
                return
            extra = ""
            if "/proto" in u.path:
                extra = f"Sec-WebSocket-Protocol: {q.get('choose', 'bogus')}\r\n"
            writer.write(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                          f"Sec-WebSocket-Accept: {accept_key(key)}\r\n{extra}\r\n").encode())
            await writer.drain()
            frames = StreamFrames(reader, expect_masked=True)

            close_seen: list[bytes] = []

            async def read_loop(echo: bool, answer_close: bool = True):
                while True:
                    try:
                        fin, rsv, op, payload = await frames.read()
                    except asyncio.IncompleteReadError:
                        rec["eof"] = True
                        return
                    ent = {"op": op, "len": len(payload), "fin": fin, "t": time.monotonic()}
                    if op == OP_CLOSE:
                        ent["code"], ent["reason"] = parse_close(payload)
                        if rec["close_code"] is None:
                            rec["close_code"], rec["close_reason"] = ent["code"], ent["reason"]
                    rec["received"].append(ent)
                    if echo and op in (OP_TEXT, OP_BIN, OP_CONT):
                        writer.write(encode_frame(op, payload, mask=False, fin=bool(fin)))
                        await writer.drain()
                    if op == OP_CLOSE:
                        close_seen.append(payload[:2])
                    if op == OP_CLOSE and answer_close:
                        try:
                            writer.write(encode_frame(OP_CLOSE, payload[:2], mask=False))
                            await writer.drain()
                        except Exception:  # noqa: BLE001
                            pass

            if "/halfclose" in u.path:
                await read_loop(False)          # until the client's EOF (no close frame expected)
                await asyncio.sleep(0.3)
                writer.write(encode_frame(OP_TEXT, b"after-eof", mask=False))
                await writer.drain()
                rec["sent_frames"] += 1
                if q.get("now") != "1":
                    await asyncio.sleep(0.2)
                return
            if "/sink" in u.path:
                if q.get("read", "0") == "1":
                    await read_loop(False)
                else:
                    await asyncio.sleep(3600)
                return
            if "/slowframes" in u.path or "/flood" in u.path:
                # the close answer is written by this loop, at a frame boundary (never inside a frame)
                rtask = asyncio.ensure_future(read_loop(False, answer_close=False))
                size = int(q.get("size", str(1 << 20)))
                chunk = int(q.get("chunk", str(size)))
                delay = float(q.get("delay", "0"))
                i = 0
                try:
                    while not rtask.done():
                        if close_seen:
                            writer.write(encode_frame(OP_CLOSE, close_seen[0], mask=False))
                            await writer.drain()
                            break
                        data = encode_frame(OP_BIN, pattern_frame_payload(i, size), mask=False)
                        for off in range(0, len(data), chunk):
                            writer.write(data[off:off + chunk])
                            await writer.drain()
                            rec["sent_bytes"] += len(data[off:off + chunk])
                            if delay:
                                await asyncio.sleep(delay)
                        rec["sent_frames"] += 1
                        i += 1
                except (ConnectionError, OSError):
                    pass
                await rtask
                return
            await read_loop(True)
        except Exception as e:  # noqa: BLE001
            rec["error"] = repr(e)
        finally:
            try:
                writer.close()
            except Exception:  # noqa: BLE001
                pass

    def records_copy(self) -> list[dict]:
        return self.lt.call(lambda: [dict(r, received=list(r["received"])) for r in self.records])

    def reset(self) -> None:
        self.lt.call(self.records.clear)

    def stop(self) -> None:
        try:
            self.server.close()
        except Exception:  # noqa: BLE001
            pass
        self.lt.stop()


# ------------------------------------------------------------------------------------------------
# raw client
# ------------------------------------------------------------------------------------------------
class RawWSClient:
    """Blocking socket client: handshake by hand, strict frame reader (server frames must be unmasked)."""

    def __init__(self, port: int, target: str, headers=(), rcvbuf: int | None = None, timeout: float = 10,
                 connection: str = "Upgrade"):
        self.sock = socket.socket()
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect(("127.0.0.1", port))
        self.buf = bytearray()
        self.key = base64.b64encode(os.urandom(16)).decode()
        req = (f"GET {target} HTTP/1.1\r\nHost: gw.test\r\nUpgrade: websocket\r\nConnection: {connection}\r\n"
               f"Sec-WebSocket-Key: {self.key}\r\nSec-WebSocket-Version: 13\r\n")
        for k, v in headers:
            req += f"{k}: {v}\r\n"
        self.sock.sendall((req + "\r\n").encode())
        head = self._until(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split(" ")[1])
        self.headers = [tuple(x.strip() for x in ln.split(":", 1)) for ln in lines[1:] if ln]
        self.body = b""
        if self.status != 101:
            n = int(self.header("content-length") or 0)
            self.body = self._exact(n)

    def header(self, name: str):
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    def _fill(self) -> None:
        d = self.sock.recv(1 << 20)
        if not d:
            raise EOFError("connection closed")
        self.buf += d

    def _until(self, sep: bytes) -> bytes:
        while sep not in self.buf:
            self._fill()
        i = self.buf.index(sep) + len(sep)
        out = bytes(self.buf[:i])
        del self.buf[:i]
        return out[:-len(sep)]

    def _exact(self, n: int) -> bytes:
        while len(self.buf) < n:
            self._fill()
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def read_frame(self):
        h = self._exact(2)
        fin, rsv, op = h[0] >> 7, (h[0] >> 4) & 7, h[0] & 0xF
        masked, n = h[1] >> 7, h[1] & 0x7F
        if n == 126:
            n = struct.unpack("!H", self._exact(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", self._exact(8))[0]
        if masked:
            raise ValueError("server-to-client frame is masked")
        if rsv:
            raise ValueError(f"unexpected RSV bits {rsv}")
        if op not in (0, 1, 2, 8, 9, 10):
            raise ValueError(f"bad opcode {op} (corrupted frame stream?)")
        return fin, op, self._exact(n)

    def send_frame(self, op: int, payload: bytes, fin: bool = True) -> None:
        self.sock.sendall(encode_frame(op, payload, mask=True, fin=fin))

    def wait_eof(self, timeout: float) -> float | None:
        """Seconds until the peer closed (EOF or reset), or None if it did not within timeout.
        Buffered/unread data is discarded."""
        t0 = time.monotonic()
        self.sock.settimeout(0.2)
        while time.monotonic() - t0 < timeout:
            try:
                d = self.sock.recv(1 << 20)
            except socket.timeout:
                continue
            except OSError:
                return time.monotonic() - t0
            if not d:
                return time.monotonic() - t0
        return None

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


# ------------------------------------------------------------------------------------------------
# socket.io server
# ------------------------------------------------------------------------------------------------
class SioServer:
    """python-socketio AsyncServer on aiohttp (path /socket.io/). Records every CONNECT it receives
    (`connects`: list of auth payloads) and every HTTP request (method, path_qs, duration)."""

    def __init__(self, ping_interval: float = 25, ping_timeout: float = 20) -> None:
        import socketio
        from aiohttp import web
        self.lt = LoopThread()
        self.connects: list = []
        self.http: list[dict] = []
        self.events: list = []
        sio = socketio.AsyncServer(async_mode="aiohttp", ping_interval=ping_interval, ping_timeout=ping_timeout,
                                   max_http_buffer_size=32 << 20, cors_allowed_origins="*")
        self.sio = sio

        @sio.event
        async def connect(sid, environ, auth):
            self.connects.append({"sid": sid, "auth": auth, "t": time.monotonic(), "ns": "/"})

        async def connect_admin(sid, environ, auth):
            self.connects.append({"sid": sid, "auth": auth, "t": time.monotonic(), "ns": "/admin"})
        sio.on("connect", connect_admin, namespace="/admin")

        @sio.event
        async def echo(sid, data):
            self.events.append(("echo", sid, len(data) if hasattr(data, "__len__") else data))
            return data

        @web.middleware
        async def record(request, handler):
            t0 = time.monotonic()
            ent = {"method": request.method, "path_qs": request.path_qs, "t0": t0, "dt": None,
                   "upgrade": request.headers.get("Upgrade")}
            if request.method == "POST" and (request.content_length or 0) <= 65536:
                # (small bodies only: the ones a test looks at.) python-engineio reads `request.content` (the stream): read it here, then hand the handler a
                # fresh stream with the same bytes.
                body = await request.read()
                ent["body"] = body
                from aiohttp.streams import StreamReader
                sr = StreamReader(request.protocol, 2 ** 16, loop=asyncio.get_running_loop())
                sr.feed_data(body)
                sr.feed_eof()
                request._payload = sr
            self.http.append(ent)
            try:
                return await handler(request)
            finally:
                ent["dt"] = time.monotonic() - t0

        app = web.Application(middlewares=[record])
        sio.attach(app)

        async def start():
            runner = web.AppRunner(app, handle_signals=False)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            return runner, site
        self.runner, site = self.lt.run(start())
        self.port = site._server.sockets[0].getsockname()[1]

    def n_connects(self) -> int:
        return self.lt.call(lambda: len(self.connects))

    def http_copy(self) -> list[dict]:
        return self.lt.call(lambda: [dict(x) for x in self.http])

    def stop(self) -> None:
        try:
            self.lt.run(self.runner.cleanup(), timeout=10)
        except Exception:  # noqa: BLE001
            pass
        self.lt.stop()


# ------------------------------------------------------------------------------------------------
# gateway process facts
# ------------------------------------------------------------------------------------------------
def nofile_soft(pid: int) -> int:
    with open(f"/proc/{pid}/limits") as f:
        for ln in f:
            if ln.startswith("Max open files"):
                v = ln.split()[3]
                return 1 << 62 if v == "unlimited" else int(v)
    raise RuntimeError("no Max open files line")


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


# ------------------------------------------------------------------------------------------------
# fixtures (import them into a test module: `from wslib import ws_up, raw_up  # noqa: F401`)
# ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def _ws_up_session():
    u = WSUpstream()
    yield u
    u.stop()


@pytest.fixture
def ws_up(_ws_up_session):
    _ws_up_session.reset()
    return _ws_up_session


@pytest.fixture(scope="session")
def _raw_up_session():
    u = RawWSUpstream()
    yield u
    u.stop()


@pytest.fixture
def raw_up(_raw_up_session):
    _raw_up_session.reset()
    return _raw_up_session


def raise_nofile(n: int = 65536) -> int:
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = n if hard == resource.RLIM_INFINITY else min(n, hard)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, want), max(hard, want)))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, want), hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]
