"""The admin listener: /healthz, /readyz, /metrics (Prometheus text) and demo --check."""
import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request

from conftest import free_port

TOKEN_SECRET = "0123456789abcdef0123456789abcdef"


def cfg(up_port, admin_port):
    return f"""
workers: 2
listen: [{{ address: "127.0.0.1:${{PORT}}" }}]
admin: {{ address: "127.0.0.1:{admin_port}" }}
limits: {{ drain_timeout: 5s }}
upstreams: {{ echo: {{ servers: ["http://127.0.0.1:{up_port}"] }} }}
keys:
  k: {{ algorithms: [HS256], secret: {{ value: "{TOKEN_SECRET}" }} }}
routes:
  - {{ name: open, match: {{ path_prefix: /open/ }}, upstream: echo, auth: off }}
  - name: api
    match: {{ path_prefix: /api/ }}
    upstream: echo
    auth: {{ keys: [k], tokens: [{{ header: Authorization, prefix: "Bearer " }}] }}
  - {{ name: rest, match: {{ path: /slow }}, upstream: echo, auth: off }}
"""


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def metric(text, name, **labels):
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        m = re.match(r"^(\w+)(\{[^}]*\})? (\S+)$", line)
        if m and m.group(1) == name and (m.group(2) or "{}")[1:-1] == want:
            return float(m.group(3))
    return None


def test_health_ready_and_metrics_count_requests(gateway, upstream):
    admin = free_port()
    g = gateway(cfg(upstream.port, admin))
    base = f"http://127.0.0.1:{g.port}"
    assert get(f"http://127.0.0.1:{admin}/healthz") == (200, "ok\n")
    assert get(f"http://127.0.0.1:{admin}/readyz") == (200, "ready\n")
    for _ in range(3):
        assert get(base + "/open/x")[0] == 200
    assert get(base + "/api/x")[0] == 401
    assert get(base + "/nowhere")[0] == 404
    status, text = get(f"http://127.0.0.1:{admin}/metrics")
    assert status == 200
    assert metric(text, "portcullis_requests_total", route="open", status="200") == 3
    assert metric(text, "portcullis_requests_total", route="api", status="401") == 1
    assert metric(text, "portcullis_requests_total", route="", status="404") == 1
    assert metric(text, "portcullis_auth_outcomes_total", route="api", reason="missing") == 1
    assert metric(text, "portcullis_request_duration_seconds_count", route="open") == 3
    assert metric(text, "portcullis_websocket_tunnels_active") == 0
    assert metric(text, "portcullis_config_generation") == 1
    assert "portcullis_build_info{" in text
    assert get(f"http://127.0.0.1:{admin}/other")[0] == 404


def test_reload_counted_and_readyz_fails_while_draining(gateway, upstream):
    admin = free_port()
    g = gateway(cfg(upstream.port, admin))
    g.proc.send_signal(signal.SIGHUP)
    deadline = time.time() + 5
    text = ""
    while time.time() < deadline:
        text = get(f"http://127.0.0.1:{admin}/metrics")[1]
        if metric(text, "portcullis_config_reloads_total", result="success") == 1:
            break
        time.sleep(0.05)
    assert metric(text, "portcullis_config_reloads_total", result="success") == 1
    assert metric(text, "portcullis_config_generation") == 2
    # A slow request keeps the drain going long enough to see /readyz answer 503.
    import threading
    t = threading.Thread(target=lambda: get(f"http://127.0.0.1:{g.port}/slow?ms=1500"))
    t.start()
    time.sleep(0.3)
    g.proc.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    assert get(f"http://127.0.0.1:{admin}/readyz")[0] == 503
    t.join(10)


def test_demo_check_runs_every_case(portcullis_bin):
    port = free_port()
    while True:  # the demo's upstream takes port + 1
        try:
            import socket
            with socket.socket() as s:
                s.bind(("127.0.0.1", port + 1))
            break
        except OSError:
            port = free_port()
    r = subprocess.run([portcullis_bin, "demo", "--check", "--port", str(port)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "demo: all 12 commands gave the expected status" in r.stdout
    assert "UNEXPECTED" not in r.stdout
