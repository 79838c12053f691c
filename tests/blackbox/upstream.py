#!/usr/bin/env python3
"""A strict, recording HTTP/1.1 upstream for the Portcullis black-box tests.

Run it as a process:  python3 upstream.py [--ports N] [--host 127.0.0.1]
It prints one JSON line {"ports": [...]} on stdout once every port listens, then serves until killed.

Every request it receives on a non-control path is recorded (method, raw target, version, headers as a
list in wire order, raw head, body length and sha256, trailers, connection id, local port, errors).
Tests read the records with GET /__requests and clear them with GET /__reset (connections whose first
request is a control request are not counted and not recorded).

Behaviour by path (any method; HEAD answers the same head without a body):
  /slow?ms=N               sleep N ms after reading the body, then echo
  /download?bytes=N[&chunked=1]   N deterministic pseudo-random bytes (see pattern()), CL or chunked
  /upload[?pause_ms=N]     sleep N ms before reading the body (back-pressure), then echo (sha/len)
  /close-after             echo with "Connection: close", then close
  /close-after?silent=1    echo without "Connection: close", then close at once
  /close-after?drop_next=1 echo (keep-alive); the next request on this connection is read and then the
                           socket is closed without an answer
  /reset[?rst=1]           close without answering (rst=1: send a TCP RST)
  /partial-rst?bytes=N     a head announcing 2N body bytes, N of them, then a TCP RST at once
  /status?code=N           204: no body; 304: "Content-Length: 1234", ETag, no body; else echo with N
  /chunked                 chunked answer "hello chunked world" with trailers X-Trailer-One and X-Checksum
  /eof-body?bytes=N        no Content-Length, no Transfer-Encoding, N pattern bytes, then close
  /100                     always send "100 Continue" before reading the body (others: only on Expect)
  anything else            echo: a JSON description of the request
Connections are keep-alive unless the request says otherwise.
"""
from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import random
import socket
import struct
import sys
import time
import urllib.parse

BLOCK_SIZE = 1_000_003  # deliberately not a power of two: misplaced buffers change the digest
SEED = 20251123
_BLOCK: bytes | None = None


def pattern_block() -> bytes:
    global _BLOCK
    if _BLOCK is None:
        _BLOCK = random.Random(SEED).randbytes(BLOCK_SIZE)
    return _BLOCK


def pattern(n: int, piece: int = 256 * 1024):
    """Yield n deterministic pseudo-random bytes as memoryviews of at most `piece` bytes."""
    blk = memoryview(pattern_block())
    off = 0
    while n > 0:
        take = min(piece, n, BLOCK_SIZE - off)
        yield blk[off:off + take]
        n -= take
        off = (off + take) % BLOCK_SIZE


def pattern_sha256(n: int) -> str:
    h = hashlib.sha256()
    for p in pattern(n, 4 * 1024 * 1024):
        h.update(p)
    return h.hexdigest()


MAX_HEAD = 1 << 20
READ_PIECE = 256 * 1024
REASONS = {100: "Continue", 200: "OK", 201: "Created", 204: "No Content", 304: "Not Modified",
           400: "Bad Request", 404: "Not Found", 500: "Internal Server Error"}
TCHAR = set(b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


class BadRequest(Exception):
    pass


class State:
    def __init__(self) -> None:
        self.records: list[dict] = []
        self.next_conn = 0
        self.conns: dict[int, dict] = {}
        self.seq = 0

    def reset(self) -> None:
        self.records.clear()
        self.conns = {k: v for k, v in self.conns.items() if v["open"]}
        for c in self.conns.values():
            c["counted"] = False  # connections open across a reset do not count again

    def connection_count(self) -> int:
        return sum(1 for c in self.conns.values() if c["counted"] and not c["control"])


STATE = State()
VERBOSE = False


def log(*a) -> None:
    if VERBOSE:
        print(*a, file=sys.stderr, flush=True)


def parse_head(raw: bytes) -> dict:
    """Parse a request head (without the final empty line). Strict: CRLF only, no obs-fold, tokens."""
    anomalies = []
    if b"\n" in raw.replace(b"\r\n", b""):
        anomalies.append("bare LF")
    lines = raw.split(b"\r\n")
    reqline = lines[0]
    parts = reqline.split(b" ")
    if len(parts) != 3:
        raise BadRequest(f"bad request line {reqline!r}")
    method, target, version = parts
    if not method or any(c not in TCHAR for c in method):
        raise BadRequest(f"bad method {method!r}")
    if version not in (b"HTTP/1.1", b"HTTP/1.0"):
        raise BadRequest(f"bad version {version!r}")
    headers = []
    for line in lines[1:]:
        if not line:
            raise BadRequest("empty line inside head")
        if line[:1] in (b" ", b"\t"):
            raise BadRequest("obs-fold")
        name, sep, value = line.partition(b":")
        if not sep or not name or any(c not in TCHAR for c in name):
            raise BadRequest(f"bad field line {line!r}")
        value = value.strip(b" \t")
        if any((c < 0x20 and c != 0x09) or c == 0x7F for c in value):
            raise BadRequest(f"control character in {name!r}")
        headers.append((name.decode("latin-1"), value.decode("latin-1")))
    return {
        "method": method.decode("latin-1"),
        "target": target.decode("latin-1"),
        "version": version.decode("latin-1"),
        "headers": headers,
        "anomalies": anomalies,
    }


def hget(headers, name: str) -> list[str]:
    n = name.lower()
    return [v for k, v in headers if k.lower() == n]


def tokens(headers, name: str) -> list[str]:
    out = []
    for v in hget(headers, name):
        out += [t.strip().lower() for t in v.split(",") if t.strip()]
    return out


class Conn:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.r = reader
        self.w = writer
        STATE.next_conn += 1
        self.id = STATE.next_conn
        sock = writer.get_extra_info("socket")
        self.port = sock.getsockname()[1] if sock else 0
        self.peer = writer.get_extra_info("peername")
        self.info = {"id": self.id, "port": self.port, "control": False, "counted": True, "open": True,
                     "requests": 0, "opened": time.time()}
        STATE.conns[self.id] = self.info
        self.drop_next = False

    # -- low level -------------------------------------------------------------------------------
    async def read_head(self) -> bytes | None:
        try:
            data = await self.r.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as e:
            if e.partial:
                raise BadRequest(f"EOF inside head: {e.partial[:200]!r}")
            return None
        except asyncio.LimitOverrunError:
            raise BadRequest("head too large")
        return data[:-4]

    async def read_line(self) -> bytes:
        try:
            line = await self.r.readuntil(b"\n")
        except asyncio.IncompleteReadError:
            raise BadRequest("EOF inside chunked body")
        if not line.endswith(b"\r\n"):
            raise BadRequest("bare LF in chunked framing")
        return line[:-2]

    async def body_pieces(self, framing):
        kind, n = framing
        if kind == "length":
            while n > 0:
                piece = await self.r.read(min(n, READ_PIECE))
                if not piece:
                    raise BadRequest(f"EOF inside body, {n} bytes missing")
                n -= len(piece)
                yield piece
        elif kind == "chunked":
            while True:
                line = await self.read_line()
                size_s = line.split(b";", 1)[0].strip(b" \t")
                if not size_s or any(c not in b"0123456789abcdefABCDEF" for c in size_s) or len(size_s) > 15:
                    raise BadRequest(f"bad chunk size {line!r}")
                size = int(size_s, 16)
                if size == 0:
                    break
                left = size
                while left > 0:
                    piece = await self.r.read(min(left, READ_PIECE))
                    if not piece:
                        raise BadRequest("EOF inside chunk")
                    left -= len(piece)
                    yield piece
                if await self.read_line() != b"":
                    raise BadRequest("chunk not followed by CRLF")
            trailers = []
            while True:
                line = await self.read_line()
                if not line:
                    break
                name, _, value = line.partition(b":")
                trailers.append((name.decode("latin-1"), value.strip().decode("latin-1")))
            self.trailers = trailers

    async def send(self, data) -> None:
        self.w.write(data)
        await self.w.drain()

    def abort(self, rst: bool = False) -> None:
        sock = self.w.get_extra_info("socket")
        if rst and sock is not None:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
        self.w.transport.abort() if rst else self.w.close()

    # -- the loop --------------------------------------------------------------------------------
    async def run(self) -> None:
        try:
            while True:
                keep = await self.one()
                if not keep:
                    break
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except Exception as e:  # never let a connection kill the server
            log(f"conn {self.id}: {type(e).__name__}: {e}")
        finally:
            self.info["open"] = False
            self.info["closed"] = time.time()
            try:
                self.w.close()
            except Exception:
                pass

    async def one(self) -> bool:
        try:
            raw = await self.read_head()
        except BadRequest as e:
            STATE.records.append({"conn": self.id, "port": self.port, "error": str(e), "complete": False})
            await self.bad(str(e))
            return False
        if raw is None:
            return False
        first = self.info["requests"] == 0
        self.info["requests"] += 1
        try:
            req = parse_head(raw)
        except BadRequest as e:
            STATE.records.append({"conn": self.id, "port": self.port, "error": str(e), "complete": False,
                                  "raw_head": raw.decode("latin-1")})
            await self.bad(str(e))
            return False
        target = req["target"]
        path, _, query = target.partition("?")
        q = dict(urllib.parse.parse_qsl(query, keep_blank_values=True))
        control = path.startswith("/__")
        if control:
            if first:
                self.info["control"] = True
            return await self.control(path, req)

        STATE.seq += 1
        rec = {"seq": STATE.seq, "conn": self.id, "port": self.port, "conn_request": self.info["requests"],
               "method": req["method"], "target": target, "version": req["version"],
               "headers": req["headers"], "raw_head": raw.decode("latin-1"), "anomalies": req["anomalies"],
               "complete": False, "body_len": 0, "body_sha256": None, "trailers": [],
               "t_head": time.time()}
        STATE.records.append(rec)
        h = req["headers"]

        # framing of the request body, strictly
        te = tokens(h, "transfer-encoding")
        cls = hget(h, "content-length")
        if te:
            if cls:
                rec["error"] = "both Content-Length and Transfer-Encoding"
                await self.bad(rec["error"])
                return False
            if te[-1] != "chunked" or te.count("chunked") != 1:
                rec["error"] = f"bad transfer-encoding {te}"
                await self.bad(rec["error"])
                return False
            framing = ("chunked", 0)
        elif cls:
            vals = set(v.strip() for c in cls for v in c.split(","))
            if len(vals) != 1 or not next(iter(vals)).isdigit():
                rec["error"] = f"bad content-length {cls}"
                await self.bad(rec["error"])
                return False
            framing = ("length", int(next(iter(vals))))
        else:
            framing = ("length", 0)
        if req["version"] == "HTTP/1.1" and len(hget(h, "host")) != 1:
            rec["anomalies"].append("Host count != 1")

        if self.drop_next:
            rec["dropped"] = True
            log(f"conn {self.id}: dropping {target}")
            self.abort()
            return False

        conn_tokens = tokens(h, "connection")
        if req["version"] == "HTTP/1.1":
            keep = "close" not in conn_tokens
        else:
            keep = "keep-alive" in conn_tokens
        has_body = framing[0] == "chunked" or framing[1] > 0
        expect = [v.lower() for v in hget(h, "expect")]
        if path == "/100" or (has_body and "100-continue" in expect and req["version"] == "HTTP/1.1"):
            await self.send(b"HTTP/1.1 100 Continue\r\n\r\n")
            rec["sent_100"] = True

        if path == "/upload" and "pause_ms" in q:
            await asyncio.sleep(int(q["pause_ms"]) / 1000)

        # consume the body, streaming
        self.trailers = []
        sha = hashlib.sha256()
        n = 0
        small = bytearray()
        try:
            async for piece in self.body_pieces(framing):
                sha.update(piece)
                n += len(piece)
                if len(small) < 65536:
                    small += piece[: 65536 - len(small)]
        except BadRequest as e:
            rec["error"] = str(e)
            rec["body_len"] = n
            await self.bad(str(e))
            return False
        rec.update(body_len=n, body_sha256=sha.hexdigest(), trailers=self.trailers, complete=True,
                   t_done=time.time(), body_head=bytes(small[:1024]).decode("latin-1"))
        log(f"conn {self.id}: {req['method']} {target} body={n}")

        return await self.respond(rec, path, q, keep)

    async def bad(self, why: str) -> None:
        body = json.dumps({"upstream_error": why}).encode()
        try:
            await self.send(b"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nConnection: close\r\n"
                            b"Content-Length: %d\r\n\r\n" % len(body) + body)
        except Exception:
            pass

    async def control(self, path: str, req: dict) -> bool:
        if path == "/__requests":
            body = json.dumps({"requests": STATE.records, "connections": STATE.connection_count(),
                               "conns": [c for c in STATE.conns.values() if not c["control"]]}).encode()
        elif path == "/__reset":
            STATE.reset()
            body = b'{"ok": true}'
        else:
            body = b'{"error": "unknown control path"}'
        await self.send(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                        % len(body) + body)
        return "close" not in tokens(req["headers"], "connection")

    def head(self, status: int, fields: list[tuple[str, str]]) -> bytes:
        out = [f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}"]
        out += [f"{k}: {v}" for k, v in fields]
        return ("\r\n".join(out) + "\r\n\r\n").encode("latin-1")

    async def respond(self, rec: dict, path: str, q: dict, keep: bool) -> bool:
        is_head = rec["method"] == "HEAD"
        conn_fields = [] if keep else [("Connection", "close")]

        async def echo(status: int = 200, extra=()) -> bool:
            desc = {k: rec[k] for k in ("seq", "conn", "port", "conn_request", "method", "target", "version",
                                        "headers", "body_len", "body_sha256", "trailers")}
            body = json.dumps(desc).encode()
            fields = [("Content-Type", "application/json"), ("Content-Length", str(len(body))),
                      ("X-Upstream-Port", str(self.port)), ("X-Upstream-Conn", str(self.id)), *extra,
                      *conn_fields]
            await self.send(self.head(status, fields) + (b"" if is_head else body))
            return keep

        if path == "/slow":
            await asyncio.sleep(int(q.get("ms", "1000")) / 1000)
            return await echo()
        if path == "/download":
            n = int(q.get("bytes", "0"))
            chunked = q.get("chunked") == "1"
            fields = [("Content-Type", "application/octet-stream"),
                      ("Transfer-Encoding", "chunked") if chunked else ("Content-Length", str(n)),
                      ("X-Pattern-Sha256", pattern_sha256(n)) if n <= (64 << 20) else ("X-Pattern", "1"),
                      *conn_fields]
            await self.send(self.head(200, fields))
            if is_head:
                return keep
            for piece in pattern(n):
                if chunked:
                    self.w.write(b"%x\r\n" % len(piece))
                    self.w.write(piece)
                    self.w.write(b"\r\n")
                else:
                    self.w.write(piece)
                await self.w.drain()
            if chunked:
                await self.send(b"0\r\n\r\n")
            return keep
        if path == "/close-after":
            if q.get("silent") == "1":
                await echo()
                self.abort()
                return False
            if q.get("drop_next") == "1":
                self.drop_next = True
                return await echo()
            conn_fields = [("Connection", "close")]
            await echo()
            return False
        if path == "/reset":
            self.abort(rst=q.get("rst") == "1")
            return False
        if path == "/partial-rst":
            # half of a Content-Length body, then a TCP RST right behind it
            n = int(q.get("bytes", "1000"))
            self.w.write(self.head(200, [("Content-Length", str(2 * n))]) + b"x" * n)
            self.abort(rst=True)
            return False
        if path == "/status":
            code = int(q.get("code", "200"))
            if code == 204:
                await self.send(self.head(204, [("X-Status", "204"), *conn_fields]))
                return keep
            if code == 304:
                await self.send(self.head(304, [("ETag", '"abc"'), ("Content-Length", "1234"), *conn_fields]))
                return keep
            return await echo(code)
        if path == "/chunked":
            parts = [b"hello ", b"chunked ", b"world"]
            digest = hashlib.sha256(b"".join(parts)).hexdigest()
            fields = [("Content-Type", "text/plain"), ("Transfer-Encoding", "chunked"),
                      ("Trailer", "X-Trailer-One, X-Checksum"), *conn_fields]
            await self.send(self.head(200, fields))
            if is_head:
                return keep
            for p in parts:
                await self.send(b"%x\r\n%s\r\n" % (len(p), p))
            await self.send(b"0\r\nX-Trailer-One: 1\r\nX-Checksum: " + digest.encode() + b"\r\n\r\n")
            return keep
        if path == "/eof-body":
            n = int(q.get("bytes", "100000"))
            await self.send(self.head(200, [("Content-Type", "application/octet-stream"),
                                            ("X-Pattern-Sha256", pattern_sha256(n))]))
            if not is_head:
                for piece in pattern(n, 16384):
                    self.w.write(piece)
                    await self.w.drain()
            self.w.close()
            return False
        return await echo()


async def handle(reader, writer) -> None:
    await Conn(reader, writer).run()


async def main() -> None:
    global VERBOSE
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--ports", type=int, default=1, help="how many ports to listen on (chosen by the kernel)")
    ap.add_argument("--port", type=int, action="append", default=[], help="listen on this port (repeatable)")
    ap.add_argument("--verbose", action="store_true")
    a = ap.parse_args()
    VERBOSE = a.verbose
    pattern_block()
    wanted = a.port or [0] * a.ports
    servers = []
    ports = []
    for p in wanted:
        s = await asyncio.start_server(handle, a.host, p, limit=MAX_HEAD, backlog=1024, reuse_address=True)
        servers.append(s)
        ports.append(s.sockets[0].getsockname()[1])
    print(json.dumps({"ports": ports}), flush=True)
    await asyncio.gather(*(s.serve_forever() for s in servers))


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
