"""A small, strict raw-socket HTTP/1.1 client for the black-box tests.

It sends exactly the bytes a test gives it and parses what comes back without any leniency a test
would want to notice (no header folding, CRLF only), so that what the gateway writes is what is checked.
"""
from __future__ import annotations

import hashlib
import json
import socket
import time
from dataclasses import dataclass, field


class ProtocolError(Exception):
    pass


@dataclass
class Response:
    status: int
    reason: str
    version: str
    headers: list[tuple[str, str]]
    body: bytes = b""
    trailers: list[tuple[str, str]] = field(default_factory=list)
    interim: list[int] = field(default_factory=list)
    raw_head: bytes = b""
    body_len: int = 0
    body_sha256: str = ""
    framing: str = ""  # "length" | "chunked" | "close" | "none"

    def header(self, name: str) -> str | None:
        n = name.lower()
        for k, v in self.headers:
            if k.lower() == n:
                return v
        return None

    def header_all(self, name: str) -> list[str]:
        n = name.lower()
        return [v for k, v in self.headers if k.lower() == n]

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            raise AssertionError(f"response body is not JSON: {self!r}") from None

    def error_json(self) -> dict:
        """The body of a response the gateway made itself: {"error": "...", "reason": "..."}."""
        d = self.json()
        assert isinstance(d, dict) and isinstance(d.get("error"), str), f"no 'error' string in {d!r}"
        return d

    def wants_close(self) -> bool:
        toks = [t.strip().lower() for v in self.header_all("connection") for t in v.split(",")]
        return "close" in toks or self.version == "HTTP/1.0" and "keep-alive" not in toks

    def __repr__(self) -> str:
        b = self.body[:300]
        return f"<Response {self.status} {self.reason!r} headers={self.headers} body={b!r}>"


class RawConn:
    def __init__(self, port: int, host: str = "127.0.0.1", timeout: float = 10.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.eof = False
        self.timeout = timeout

    # -- io ---------------------------------------------------------------------------------------
    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _fill(self, n: int = 262144) -> bool:
        if self.eof:
            return False
        try:
            d = self.sock.recv(n)
        except ConnectionResetError:
            d = b""
        if not d:
            self.eof = True
            return False
        self.buf += d
        return True

    def _read_until(self, sep: bytes, limit: int = 1 << 20) -> bytes:
        start = 0
        while True:
            i = self.buf.find(sep, start)
            if i >= 0:
                out = bytes(self.buf[: i + len(sep)])
                del self.buf[: i + len(sep)]
                return out
            start = max(0, len(self.buf) - len(sep) + 1)
            if len(self.buf) > limit:
                raise ProtocolError("line/head too long")
            if not self._fill():
                raise ProtocolError(f"EOF before {sep!r}; have {bytes(self.buf[:300])!r}")

    def _read_exact(self, n: int, sink=None) -> bytes:
        out = bytearray()
        while n > 0:
            if not self.buf and not self._fill():
                raise ProtocolError(f"EOF with {n} body bytes missing")
            take = min(n, len(self.buf))
            piece = bytes(self.buf[:take])
            del self.buf[:take]
            n -= take
            if sink:
                sink(piece)
            else:
                out += piece
        return bytes(out)

    # -- responses --------------------------------------------------------------------------------
    def read_head(self) -> tuple[bytes, int, str, str, list[tuple[str, str]]]:
        raw = self._read_until(b"\r\n\r\n")
        lines = raw[:-4].split(b"\r\n")
        for ln in lines:
            if b"\n" in ln or b"\r" in ln:
                raise ProtocolError(f"bare CR/LF in response head {raw!r}")
        parts = lines[0].split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
            raise ProtocolError(f"bad status line {lines[0]!r}")
        headers = []
        for ln in lines[1:]:
            name, sep, value = ln.partition(b":")
            if not sep or not name or name != name.strip() or ln[:1] in (b" ", b"\t"):
                raise ProtocolError(f"bad response field line {ln!r}")
            headers.append((name.decode("latin-1"), value.strip(b" \t").decode("latin-1")))
        return (raw, int(parts[1]), (parts[2] if len(parts) > 2 else b"").decode("latin-1"),
                parts[0].decode(), headers)

    def read_response(self, method: str = "GET", sink=None, keep_body: bool = True,
                      return_interim: bool = False) -> Response:
        """Read one final response (1xx interim responses are collected in .interim)."""
        interim = []
        while True:
            raw, status, reason, version, headers = self.read_head()
            if 100 <= status < 200 and status != 101:
                interim.append(status)
                if return_interim:
                    return Response(status, reason, version, headers, raw_head=raw, framing="none")
                continue
            break
        r = Response(status, reason, version, headers, interim=interim, raw_head=raw)
        h = hashlib.sha256()
        body = bytearray()
        count = 0

        def take(piece: bytes) -> None:
            nonlocal count
            count += len(piece)
            h.update(piece)
            if sink:
                sink(piece)
            elif keep_body:
                body.extend(piece)

        te = [t.strip().lower() for v in r.header_all("transfer-encoding") for t in v.split(",") if t.strip()]
        cls = r.header_all("content-length")
        if method == "HEAD" or status in (204, 304) or status == 101:
            r.framing = "none"
        elif te:
            if te[-1] != "chunked":
                r.framing = "close"
                self._read_to_eof(take)
            else:
                r.framing = "chunked"
                r.trailers = self._read_chunked(take)
        elif cls:
            if len(set(cls)) != 1 or not cls[0].isdigit():
                raise ProtocolError(f"bad response Content-Length {cls}")
            r.framing = "length"
            self._read_exact(int(cls[0]), take)
        else:
            r.framing = "close"
            self._read_to_eof(take)
        r.body = bytes(body)
        r.body_len = count
        r.body_sha256 = h.hexdigest()
        return r

    def _read_to_eof(self, take) -> None:
        while True:
            if self.buf:
                piece = bytes(self.buf)
                self.buf.clear()
                take(piece)
            if not self._fill():
                return

    def _read_chunked(self, take) -> list[tuple[str, str]]:
        while True:
            line = self._read_until(b"\r\n", 4096)[:-2]
            size_s = line.split(b";", 1)[0].strip()
            try:
                size = int(size_s, 16)
            except ValueError:
                raise ProtocolError(f"bad chunk size line {line!r}")
            if size == 0:
                break
            self._read_exact(size, take)
            if self._read_until(b"\r\n", 2) != b"\r\n":
                raise ProtocolError("chunk data not followed by CRLF")
        trailers = []
        while True:
            line = self._read_until(b"\r\n", 65536)[:-2]
            if not line:
                return trailers
            name, _, value = line.partition(b":")
            trailers.append((name.decode("latin-1"), value.strip().decode("latin-1")))

    # -- connection state -------------------------------------------------------------------------
    def closed_by_peer(self, timeout: float = 3.0) -> bool:
        """True when the peer closes (EOF or RST) within `timeout` with no further bytes; bytes that
        arrive instead are kept in self.buf and False is returned."""
        if self.buf:
            return False
        if self.eof:
            return True
        self.sock.settimeout(timeout)
        try:
            d = self.sock.recv(65536)
        except ConnectionResetError:
            self.eof = True
            return True
        except socket.timeout:
            return False
        finally:
            self.sock.settimeout(self.timeout)
        if not d:
            self.eof = True
            return True
        self.buf += d
        return False

    def wait_closed(self, timeout: float) -> float | None:
        """Wait for EOF/RST, discarding any bytes; returns seconds waited or None on timeout."""
        t0 = time.monotonic()
        deadline = t0 + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                d = self.sock.recv(65536)
            except ConnectionResetError:
                d = b""
            except socket.timeout:
                return None
            finally:
                self.sock.settimeout(self.timeout)
            if not d:
                self.eof = True
                return time.monotonic() - t0
            self.buf += d

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def build_request(method: str, target: str, host: str = "gw.test", headers=(), body: bytes | None = None,
                  version: str = "HTTP/1.1", content_length: bool = True) -> bytes:
    lines = [f"{method} {target} {version}"]
    if host is not None:
        lines.append(f"Host: {host}")
    for k, v in headers:
        lines.append(f"{k}: {v}")
    if body is not None and content_length:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")


def request(port: int, method: str, target: str, host: str = "gw.test", headers=(), body: bytes | None = None,
            timeout: float = 10.0) -> Response:
    """One request on a fresh connection."""
    with RawConn(port, timeout=timeout) as c:
        c.send(build_request(method, target, host, headers, body))
        return c.read_response(method)


def chunk_encode(pieces, trailers=()) -> bytes:
    out = bytearray()
    for p in pieces:
        out += b"%x\r\n" % len(p) + p + b"\r\n"
    out += b"0\r\n"
    for k, v in trailers:
        out += f"{k}: {v}\r\n".encode()
    out += b"\r\n"
    return bytes(out)
