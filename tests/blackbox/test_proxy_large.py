"""Large bodies: 1 GiB each way with equal sha256 at both ends while the gateway's RSS stays under 64 MiB,
and back-pressure when either side reads slowly."""
import socket
import subprocess
import threading
import time

import pytest

import gwconf
import upstream as up_mod
from httpc import RawConn, build_request

GIB = 1 << 30
RSS_LIMIT_KIB = 64 * 1024


class RssSampler:
    """Samples the gateway's VmRSS every 20 ms in a thread."""

    def __init__(self, gw):
        self.gw = gw
        self.peak = 0
        self.samples = 0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            try:
                self.peak = max(self.peak, self.gw.rss_kib())
                self.samples += 1
            except (FileNotFoundError, ProcessLookupError, KeyError):
                return
            self._stop.wait(0.02)

    def __enter__(self):
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join(2)


@pytest.fixture(scope="module")
def gib_sha():
    return up_mod.pattern_sha256(GIB)


def send_pattern(conn: RawConn, n: int, gw=None, upstream=None, chunked: bool = False) -> None:
    """Stream n pattern bytes (optionally chunk-framed); on a send error fail with what the gateway logged."""
    sent = 0
    t0 = time.monotonic()
    try:
        for piece in up_mod.pattern(n, 1 << 20):
            if chunked:
                conn.sock.sendall(b"%x\r\n" % len(piece))
                conn.sock.sendall(piece)
                conn.sock.sendall(b"\r\n")
            else:
                conn.sock.sendall(piece)
            sent += len(piece)
        if chunked:
            conn.sock.sendall(b"0\r\n\r\n")
    except OSError as e:
        ctx = ""
        if gw is not None:
            time.sleep(0.2)
            ctx += f"\ngateway access log: {gw.stdout_lines()[-3:]}"
        if upstream is not None:
            ctx += "\nupstream saw: " + str([(x["target"], x.get("body_len"), x.get("error"))
                                            for x in upstream.requests()])
        pytest.fail(f"sending the body failed after {sent >> 20} MiB in {time.monotonic() - t0:.1f}s: "
                    f"{type(e).__name__}: {e}{ctx}", pytrace=False)


@pytest.mark.slow
def test_upload_1gib(gw, upstream, gib_sha):
    with RssSampler(gw) as rss, RawConn(gw.port, timeout=120) as c:
        t0 = time.monotonic()
        c.send(build_request("POST", "/upload", headers=[("Content-Length", str(GIB))]))
        send_pattern(c, GIB, gw, upstream)
        r = c.read_response()
        dt = time.monotonic() - t0
    assert r.status == 200, r
    d = r.json()
    assert d["body_len"] == GIB
    assert d["body_sha256"] == gib_sha, "upstream received different bytes than the client sent"
    hwm = gw.hwm_kib()
    print(f"upload 1 GiB: {dt:.1f}s ({GIB / dt / 1e6:.0f} MB/s), peak RSS sampled {rss.peak} KiB, VmHWM {hwm} KiB")
    assert rss.peak < RSS_LIMIT_KIB, f"gateway RSS reached {rss.peak} KiB during a 1 GiB upload"
    assert hwm < RSS_LIMIT_KIB, f"gateway VmHWM {hwm} KiB"


@pytest.mark.slow
def test_upload_1gib_chunked(gw, upstream, gib_sha):
    with RssSampler(gw) as rss, RawConn(gw.port, timeout=120) as c:
        c.send(build_request("POST", "/upload", headers=[("Transfer-Encoding", "chunked")]))
        send_pattern(c, GIB, gw, upstream, chunked=True)
        r = c.read_response()
    assert r.status == 200, r
    assert r.json()["body_len"] == GIB
    assert r.json()["body_sha256"] == gib_sha
    assert rss.peak < RSS_LIMIT_KIB, f"gateway RSS reached {rss.peak} KiB during a chunked 1 GiB upload"


@pytest.mark.slow
def test_download_1gib_curl(gw, upstream, gib_sha):
    with RssSampler(gw) as rss:
        t0 = time.monotonic()
        out = subprocess.run(f"curl -sS --fail --max-time 170 '{gw.url(f'/download?bytes={GIB}')}' | sha256sum",
                             shell=True, capture_output=True, text=True, timeout=175)
        dt = time.monotonic() - t0
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[0] == gib_sha, "client received different bytes than the upstream sent"
    hwm = gw.hwm_kib()
    print(f"download 1 GiB: {dt:.1f}s ({GIB / dt / 1e6:.0f} MB/s), peak RSS sampled {rss.peak} KiB, VmHWM {hwm} KiB")
    assert rss.peak < RSS_LIMIT_KIB, f"gateway RSS reached {rss.peak} KiB during a 1 GiB download"
    assert hwm < RSS_LIMIT_KIB, f"gateway VmHWM {hwm} KiB"


@pytest.mark.slow
def test_download_1gib_chunked(gw, upstream, gib_sha):
    with RssSampler(gw) as rss, RawConn(gw.port, timeout=120) as c:
        c.send(build_request("GET", f"/download?bytes={GIB}&chunked=1"))
        r = c.read_response(keep_body=False)
    assert r.status == 200
    assert r.body_len == GIB
    assert r.body_sha256 == gib_sha
    assert rss.peak < RSS_LIMIT_KIB, f"gateway RSS reached {rss.peak} KiB during a chunked 1 GiB download"


def test_backpressure_slow_client_reader(gateway, upstream):
    """The client stops reading a 512 MiB download: the gateway must stop reading from the upstream
    instead of buffering the body."""
    g = gateway(gwconf.config(upstream.port, limits={"idle_timeout": "30s"}))
    n = 512 << 20
    with RawConn(g.port, timeout=30) as c:
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        c.send(build_request("GET", f"/download?bytes={n}"))
        got = 0
        while got < (1 << 20):
            got += len(c.sock.recv(65536))
        time.sleep(2.5)
        rss = g.rss_kib()
        assert rss < RSS_LIMIT_KIB, f"gateway RSS {rss} KiB while the client is not reading: body buffered"
    # closing in the middle of the body must not upset the gateway
    time.sleep(0.2)
    assert g.alive()
    assert g.rss_kib() < RSS_LIMIT_KIB


def test_backpressure_slow_upstream_reader(gateway, upstream):
    """The upstream does not read the body for 3 s: the gateway must stop reading from the client."""
    g = gateway(gwconf.config(upstream.port, limits={"upstream_timeout": "30s", "idle_timeout": "30s"}))
    n = 256 << 20
    result = {}

    def sender():
        try:
            with RawConn(g.port, timeout=20) as c:
                c.send(build_request("POST", "/upload?pause_ms=3000", headers=[("Content-Length", str(n))]))
                for piece in up_mod.pattern(n, 1 << 20):
                    c.sock.sendall(piece)
                    result["sent"] = result.get("sent", 0) + len(piece)
                result["resp"] = c.read_response()
        except Exception as e:
            result["error"] = (f"{type(e).__name__}: {e} after sending {result.get('sent', 0) >> 20} MiB; "
                               f"gateway log: {g.stdout_lines()[-2:]}")

    t = threading.Thread(target=sender)
    t.start()
    time.sleep(2.0)
    rss_paused = g.rss_kib()
    t.join(90)
    assert "error" not in result, result.get("error")
    r = result["resp"]
    assert r.status == 200
    assert r.json()["body_len"] == n
    assert r.json()["body_sha256"] == up_mod.pattern_sha256(n)
    assert rss_paused < RSS_LIMIT_KIB, f"gateway RSS {rss_paused} KiB while the upstream was not reading"


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_upload_64mib(gw, upstream, chunked):
    """A medium upload, fast enough for every run: bytes flow end to end without stalling."""
    n = 64 << 20
    with RawConn(gw.port, timeout=20) as c:
        hdr = ("Transfer-Encoding", "chunked") if chunked else ("Content-Length", str(n))
        c.send(build_request("POST", "/upload", headers=[hdr]))
        send_pattern(c, n, gw, upstream, chunked=chunked)
        r = c.read_response()
    assert r.status == 200, r
    assert r.json()["body_len"] == n
    assert r.json()["body_sha256"] == up_mod.pattern_sha256(n)
