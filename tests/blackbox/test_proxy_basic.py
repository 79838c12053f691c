"""Forwarding basics against the Python upstream and nginx: keep-alive reuse, concurrency, access log."""
import hashlib
import json
import subprocess
import threading
import time

import pytest

import gwconf
from httpc import RawConn, build_request, request


def test_simple_get(gw, upstream):
    r = request(gw.port, "GET", "/hello?a=1")
    assert r.status == 200, r
    d = r.json()
    assert d["method"] == "GET" and d["target"] == "/hello?a=1"
    assert len(upstream.requests()) == 1


def test_curl_get(gw, upstream):
    out = subprocess.run(["curl", "-sS", "--max-time", "10", gw.url("/curl")], capture_output=True, timeout=20)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["target"] == "/curl"


def test_http10_client(gw, upstream):
    with RawConn(gw.port) as c:
        c.send(b"GET /ten HTTP/1.0\r\nHost: gw.test\r\n\r\n")
        r = c.read_response()
        assert r.status == 200
        assert r.version in ("HTTP/1.0", "HTTP/1.1")
        assert r.header("transfer-encoding") is None, "an HTTP/1.0 client cannot read chunked"
        assert c.closed_by_peer(3), "HTTP/1.0 without keep-alive: the gateway closes after the response"


def test_keepalive_reuse_python_upstream(gateway, upstream):
    g = gateway(gwconf.config(upstream.port))
    n = 30
    for i in range(n):  # a fresh client connection each time: only the upstream side can be reused
        assert request(g.port, "GET", f"/ka/{i}").status == 200
    conns = upstream.connections()
    recs = upstream.requests()
    assert len(recs) == n
    assert conns < n // 2, f"upstream saw {conns} connections for {n} requests: no keep-alive reuse"


def test_keepalive_client_connection_reused(gw, upstream):
    with RawConn(gw.port) as c:
        for i in range(20):
            c.send(build_request("GET", f"/same/{i}"))
            r = c.read_response()
            assert r.status == 200 and r.json()["target"] == f"/same/{i}"
    assert upstream.connections() < 10


@pytest.mark.nginx
def test_keepalive_reuse_nginx(gateway, nginx):
    g = gateway(gwconf.config(nginx.port))
    n = 40
    for i in range(n):
        r = request(g.port, "GET", f"/hello?i={i}")
        assert r.status == 200 and r.body == b"hello from nginx\n", r
    time.sleep(0.2)
    log = nginx.access_log()
    assert len(log) == n, log[-3:]
    conns = nginx.connections()
    assert conns < n // 2, f"nginx saw {conns} connections for {n} requests: no keep-alive reuse"


@pytest.mark.nginx
def test_nginx_static_file(gateway, nginx):
    g = gateway(gwconf.config(nginx.port))
    with RawConn(g.port) as c:
        for _ in range(3):
            c.send(build_request("GET", "/static/file.bin"))
            r = c.read_response()
            assert r.status == 200
            assert r.body == nginx.static
        c.send(build_request("HEAD", "/static/file.bin"))
        r = c.read_response("HEAD")
        assert r.status == 200 and r.body == b""
        c.send(build_request("GET", "/static/missing"))
        assert c.read_response().status == 404
        c.send(build_request("GET", "/static/file.bin", headers=[("Range", "bytes=10-19")]))
        r = c.read_response()
        assert r.status == 206 and r.body == nginx.static[10:20]


@pytest.mark.nginx
def test_nginx_curl_download_sha(gateway, nginx):
    g = gateway(gwconf.config(nginx.port))
    out = subprocess.run(f"curl -sS --max-time 20 {g.url('/static/file.bin')} | sha256sum", shell=True,
                         capture_output=True, text=True, timeout=30)
    assert out.stdout.split()[0] == hashlib.sha256(nginx.static).hexdigest()


def test_100_concurrent_clients(gw, upstream):
    n_clients, per_client = 100, 5
    barrier = threading.Barrier(n_clients, timeout=30)
    errors = []

    def client(i):
        try:
            with RawConn(gw.port, timeout=30) as c:
                barrier.wait()
                for j in range(per_client):
                    target = f"/slow?ms=50&c={i}&r={j}"
                    c.send(build_request("GET", target))
                    r = c.read_response()
                    if r.status != 200 or r.json()["target"] != target:
                        errors.append(f"client {i} request {j}: {r}")
                        return
        except Exception as e:
            errors.append(f"client {i}: {type(e).__name__}: {e}")

    t0 = time.monotonic()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(n_clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    dt = time.monotonic() - t0
    assert not errors, f"{len(errors)} failures, e.g. {errors[:5]}"
    recs = upstream.requests()
    assert len(recs) == n_clients * per_client
    # 500 requests of 50 ms in 100 parallel streams: about 0.25 s if concurrent, 25 s if serialised
    assert dt < 15, f"100 clients took {dt:.1f}s: requests are not handled concurrently"


def test_access_log_json_lines(gw, upstream):
    request(gw.port, "GET", "/logged?x=1")
    request(gw.port, "GET", "/dead/x")
    deadline = time.monotonic() + 3
    entries = []
    while time.monotonic() < deadline:
        entries = gw.access_log()
        if len(entries) >= 2:
            break
        time.sleep(0.05)
    lines = gw.stdout_lines()
    for ln in lines:
        json.loads(ln)  # every stdout line is JSON
    assert len(entries) >= 2, f"expected two access-log lines, stdout was {lines}"
    by_status = {e.get("status"): e for e in entries}
    assert 200 in by_status and 502 in by_status, entries
    ok = by_status[200]
    assert ok.get("route") == "all" and ok.get("method") == "GET", ok
    assert "/logged" in str(ok.get("path")), ok
    assert by_status[502].get("route") == "dead"
