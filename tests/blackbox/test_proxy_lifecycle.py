"""Process lifecycle: graceful drain on SIGTERM/SIGINT, reload on SIGHUP, `portcullis check`."""
import re
import signal
import socket
import subprocess
import threading
import time

import pytest

import gwconf
from conftest import run_cli
from httpc import ProtocolError, RawConn, build_request, request


def _inflight(port, target, result):
    try:
        with RawConn(port, timeout=15) as c:
            c.send(build_request("GET", target))
            result["t_sent"] = time.monotonic()
            result["resp"] = c.read_response()
    except Exception as e:
        result["error"] = f"{type(e).__name__}: {e}"


def _new_connection_refused(port) -> tuple[bool, str]:
    """After the signal: either connect fails, or the connection is closed without a response."""
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=1)
    except OSError as e:
        return True, f"connect: {e}"
    c = RawConn.__new__(RawConn)
    c.sock, c.buf, c.eof, c.timeout = s, bytearray(), False, 2
    try:
        c.send(build_request("GET", "/after-signal"))
        r = c.read_response()
        return False, f"new connection after SIGTERM was served: {r}"
    except (ProtocolError, OSError, socket.timeout) as e:
        return True, f"closed without a response: {e}"
    finally:
        c.close()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_graceful_shutdown_drains_inflight(gateway, upstream, sig):
    g = gateway(gwconf.config(upstream.port))
    result = {}
    t = threading.Thread(target=_inflight, args=(g.port, "/slow?ms=1500", result))
    t.start()
    assert upstream.wait_requests(1, timeout=3), "the slow request did not reach the upstream"
    time.sleep(0.2)
    t_sig = time.monotonic()
    g.signal(sig)
    time.sleep(0.2)
    refused, how = _new_connection_refused(g.port)
    t.join(10)
    assert "error" not in result, f"in-flight request failed during drain: {result['error']}"
    r = result["resp"]
    assert r.status == 200, f"in-flight request not completed: {r}"
    assert r.json()["target"] == "/slow?ms=1500"
    assert refused, how
    try:
        rc = g.wait(6)
    except subprocess.TimeoutExpired:
        pytest.fail("gateway still running 6 s after the signal (drain_timeout 5s)")
    dt = time.monotonic() - t_sig
    assert rc == 0, f"exit status {rc} after {sig.name}"
    assert dt < 5.5, f"exit took {dt:.1f}s"


def test_shutdown_does_not_wait_for_idle_keepalive(gateway, upstream):
    g = gateway(gwconf.config(upstream.port))
    idle = RawConn(g.port)
    idle.send(build_request("GET", "/one"))
    assert idle.read_response().status == 200
    t0 = time.monotonic()
    g.signal(signal.SIGTERM)
    try:
        rc = g.wait(6)
    except subprocess.TimeoutExpired:
        pytest.fail("an idle keep-alive connection held the gateway past drain_timeout")
    dt = time.monotonic() - t0
    idle.close()
    assert rc == 0
    assert dt < 2.0, f"gateway waited {dt:.1f}s for an idle keep-alive connection"


def test_drain_timeout_bounds_shutdown(gateway, upstream):
    g = gateway(gwconf.config(upstream.port, limits={"drain_timeout": "1s", "upstream_timeout": "30s"}))
    result = {}
    t = threading.Thread(target=_inflight, args=(g.port, "/slow?ms=8000", result))
    t.start()
    assert upstream.wait_requests(1, timeout=3)
    t0 = time.monotonic()
    g.signal(signal.SIGTERM)
    try:
        rc = g.wait(5)
    except subprocess.TimeoutExpired:
        pytest.fail("gateway ignored drain_timeout (1s) with a request still in flight")
    dt = time.monotonic() - t0
    t.join(10)
    assert dt < 3.0, f"exit took {dt:.1f}s with drain_timeout 1s"
    assert rc == 0


def test_sighup_reloads_routes(gateway, upstream):
    only_exact = "  - { name: exact, match: { path: /exact }, upstream: echo, auth: off }\n"
    g = gateway(gwconf.config(upstream.port, routes=only_exact))
    assert request(g.port, "GET", "/new").status == 404
    keep = RawConn(g.port)  # a connection open across the reload keeps working
    keep.send(build_request("GET", "/exact"))
    assert keep.read_response().status == 200
    g.write_config(gwconf.config(upstream.port, routes=only_exact
                                 + "  - { name: new, match: { path: /new }, upstream: echo, auth: off }\n"))
    g.signal(signal.SIGHUP)
    deadline = time.monotonic() + 5
    status = None
    while time.monotonic() < deadline:
        status = request(g.port, "GET", "/new").status
        if status == 200:
            break
        time.sleep(0.1)
    assert status == 200, "route added to the file not served 5 s after SIGHUP"
    keep.send(build_request("GET", "/exact"))
    assert keep.read_response().status == 200
    keep.close()
    assert g.alive()


def test_sighup_with_broken_file_keeps_old_config(gateway, upstream):
    g = gateway(gwconf.config(upstream.port))
    g.write_config("workers: 2\nthis is: [not valid\n")
    g.signal(signal.SIGHUP)
    time.sleep(0.5)
    assert g.alive(), "a bad reload must not kill the gateway"
    assert request(g.port, "GET", "/still").status == 200


# -- portcullis check / run with a bad file ------------------------------------------------------
def test_check_valid(portcullis_bin, tmp_path, upstream):
    p = tmp_path / "ok.conf"
    p.write_text(gwconf.config(upstream.port).replace("${PORT}", "18080"))
    r = run_cli(portcullis_bin, "check", "--config", str(p))
    assert r.returncode == 0, r.stderr


BAD = """\
workers: 2
listen:
  - address: "127.0.0.1:18080"
bogus_key: 1
limits:
  header_timeout: 10 parsecs
upstreams:
  echo: { servers: ["http://127.0.0.1:9"] }
routes:
  - { name: a, match: { path_prefix: / }, upstream: nowhere, auth: off }
"""


def test_check_invalid_reports_every_error_with_position(portcullis_bin, tmp_path):
    p = tmp_path / "bad.conf"
    p.write_text(BAD)
    r = run_cli(portcullis_bin, "check", "--config", str(p))
    assert r.returncode == 1, f"exit {r.returncode}; stderr: {r.stderr}"
    pat = re.compile(rf"^{re.escape(str(p))}:(\d+):(\d+): .+", re.M)
    found = [(int(a), int(b)) for a, b in pat.findall(r.stderr)]
    assert found, f"no PATH:LINE:COL: lines on stderr:\n{r.stderr}"
    lines = {ln for ln, _ in found}
    assert 4 in lines, f"unknown key on line 4 not reported: {r.stderr}"
    assert 6 in lines, f"bad duration on line 6 not reported: {r.stderr}"
    assert 10 in lines, f"unknown upstream on line 10 not reported: {r.stderr}"
    assert (4, 1) in found, f"unknown key is at 4:1: {r.stderr}"


def test_check_missing_file(portcullis_bin, tmp_path):
    r = run_cli(portcullis_bin, "check", "--config", str(tmp_path / "missing.conf"))
    assert r.returncode == 1
    assert "missing.conf" in r.stderr


def test_run_with_invalid_config_exits_nonzero(portcullis_bin, tmp_path):
    p = tmp_path / "bad.conf"
    p.write_text(BAD)
    proc = subprocess.Popen([portcullis_bin, "run", "--config", str(p)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail("`portcullis run` with an invalid file kept running")
    assert proc.returncode != 0
    assert re.search(rf"{re.escape(str(p))}:\d+:\d+: ", err), err


def test_listen_port_in_use_fails(gateway, upstream):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    port = s.getsockname()[1]
    try:
        g = gateway(gwconf.config(upstream.port), wait=False, port=port)
        try:
            rc = g.wait(10)
        except subprocess.TimeoutExpired:
            pytest.fail("gateway kept running although its listen address is taken")
        g.expected_exit = True
        assert rc != 0
        assert g.stderr_text().strip(), "no diagnostic on stderr"
    finally:
        s.close()
