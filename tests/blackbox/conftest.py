"""Fixtures for the Portcullis black-box suite: the binary, the Python upstream, nginx, the gateway."""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(HERE))

import gwconf  # noqa: E402


# ------------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float, alive=lambda: True) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive():
            raise RuntimeError("process exited before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"port {port} not listening after {timeout}s")


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS/VmHWM/... of a process in KiB."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k.startswith("Vm") or k == "Threads":
                out[k] = int(v.split()[0])
    return out


# ------------------------------------------------------------------------------------------------
# the binary
# ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def portcullis_bin() -> str:
    path = os.environ.get("PORTCULLIS_BIN") or str(REPO / ".build" / "release" / "portcullis")
    if not os.path.exists(path):
        if os.environ.get("PORTCULLIS_BIN"):
            pytest.fail(f"PORTCULLIS_BIN={path} does not exist")
        r = subprocess.run(["swift", "build", "-c", "release", "--product", "portcullis"], cwd=REPO,
                           capture_output=True, text=True, timeout=1800)
        if r.returncode != 0 or not os.path.exists(path):
            pytest.fail("swift build -c release --product portcullis failed:\n"
                        + (r.stdout + r.stderr)[-4000:], pytrace=False)
    return path


# ------------------------------------------------------------------------------------------------
# the Python upstream
# ------------------------------------------------------------------------------------------------
class Upstream:
    def __init__(self, nports: int = 8):
        self.proc = subprocess.Popen([sys.executable, str(HERE / "upstream.py"), "--ports", str(nports)],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("upstream did not start: " + self.proc.stderr.read())
        self.ports: list[int] = json.loads(line)["ports"]
        self.port = self.ports[0]

    def _control(self, path: str) -> dict:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=10) as r:
            return json.loads(r.read())

    def requests(self) -> list[dict]:
        """Every request recorded since the last reset, in arrival order."""
        return self._control("/__requests")["requests"]

    def connections(self) -> int:
        """Distinct TCP connections accepted since the last reset (control connections excluded)."""
        return self._control("/__requests")["connections"]

    def reset(self) -> None:
        self._control("/__reset")

    def wait_requests(self, n: int, timeout: float = 5.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while True:
            reqs = self.requests()
            if len(reqs) >= n or time.monotonic() > deadline:
                return reqs
            time.sleep(0.05)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture(scope="session")
def _upstream_session():
    up = Upstream()
    yield up
    up.stop()


@pytest.fixture
def upstream(_upstream_session):
    """The session's Python upstream, with its records cleared for this test."""
    if not _upstream_session.alive():
        pytest.fail("the Python upstream died: " + _upstream_session.proc.stderr.read()[-2000:])
    _upstream_session.reset()
    return _upstream_session


# ------------------------------------------------------------------------------------------------
# nginx
# ------------------------------------------------------------------------------------------------
NGINX_CONF = """\
user root;
worker_processes 1;
daemon off;
master_process on;
error_log {dir}/error.log warn;
pid {dir}/nginx.pid;
events {{ worker_connections 1024; }}
http {{
    log_format conn '$connection $connection_requests $request_method "$request_uri" $status $body_bytes_sent';
    access_log {dir}/access.log conn;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    keepalive_requests 100000;
    keepalive_timeout 60s;
    default_type application/octet-stream;
    sendfile on;
    server {{
        listen 127.0.0.1:{port} reuseport;
        location /static/ {{ root {dir}/www; }}
        location /hello {{ return 200 "hello from nginx\\n"; }}
        location / {{ return 200 "nginx: $request_uri\\n"; }}
    }}
}}
"""


class Nginx:
    def __init__(self, tmp: Path):
        self.dir = tmp
        self.port = free_port()
        (tmp / "www" / "static").mkdir(parents=True)
        self.static = os.urandom(300_000)
        (tmp / "www" / "static" / "file.bin").write_bytes(self.static)
        conf = tmp / "nginx.conf"
        conf.write_text(NGINX_CONF.format(dir=tmp, port=self.port))
        exe = shutil.which("nginx") or "/usr/sbin/nginx"
        self.proc = subprocess.Popen([exe, "-c", str(conf), "-p", str(tmp)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            wait_port(self.port, 10, lambda: self.proc.poll() is None)
        except Exception:
            err = (tmp / "error.log").read_text() if (tmp / "error.log").exists() else ""
            raise RuntimeError(f"nginx did not start: {self.proc.stderr.read() if self.proc.poll() is not None else ''}"
                               f" {err}")

    def access_log(self) -> list[list[str]]:
        p = self.dir / "access.log"
        return [ln.split() for ln in p.read_text().splitlines()] if p.exists() else []

    def connections(self) -> int:
        return len({row[0] for row in self.access_log()})

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def nginx(tmp_path):
    if not (shutil.which("nginx") or os.path.exists("/usr/sbin/nginx")):
        pytest.fail("nginx is not installed (run scripts/deps.sh)")
    d = tmp_path / "nginx"
    d.mkdir()
    n = Nginx(d)
    yield n
    n.stop()


# ------------------------------------------------------------------------------------------------
# the gateway
# ------------------------------------------------------------------------------------------------
class Gateway:
    def __init__(self, binary: str, config_text: str, workdir: Path, port: int | None = None,
                 wait: bool = True):
        self.port = port or free_port()
        self.dir = workdir
        self.config_text = config_text.replace("${PORT}", str(self.port))
        self.config_path = workdir / "gateway.conf"
        self.config_path.write_text(self.config_text)
        self.stderr_path = workdir / "stderr.log"
        self._stderr = open(self.stderr_path, "wb")
        self._lines: list[str] = []
        self.expected_exit = False
        self.proc = subprocess.Popen([binary, "run", "--config", str(self.config_path)],
                                     stdout=subprocess.PIPE, stderr=self._stderr, cwd=workdir)
        self.pid = self.proc.pid
        self._reader = threading.Thread(target=self._read_stdout, daemon=True)
        self._reader.start()
        if wait:
            try:
                wait_port(self.port, 20, lambda: self.proc.poll() is None)
            except Exception as e:
                self.kill()
                pytest.fail(f"gateway did not start listening on {self.port}: {e}\n"
                            f"exit={self.proc.returncode}\nstderr:\n{self.stderr_text()[-3000:]}\n"
                            f"config:\n{self.config_text}", pytrace=False)

    def _read_stdout(self) -> None:
        for line in self.proc.stdout:
            self._lines.append(line.decode("utf-8", "replace").rstrip("\n"))

    # -- introspection ----------------------------------------------------------------------------
    def stdout_lines(self) -> list[str]:
        return list(self._lines)

    def access_log(self) -> list[dict]:
        out = []
        for ln in self.stdout_lines():
            try:
                out.append(json.loads(ln))
            except ValueError:
                pass
        return out

    def stderr_text(self) -> str:
        if not self._stderr.closed:
            self._stderr.flush()
        return self.stderr_path.read_bytes().decode("utf-8", "replace")

    def status(self) -> dict[str, int]:
        return proc_status(self.pid)

    def rss_kib(self) -> int:
        return self.status()["VmRSS"]

    def hwm_kib(self) -> int:
        return self.status()["VmHWM"]

    def alive(self) -> bool:
        return self.proc.poll() is None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def write_config(self, text: str) -> None:
        self.config_text = text.replace("${PORT}", str(self.port))
        self.config_path.write_text(self.config_text)

    # -- control ----------------------------------------------------------------------------------
    def signal(self, sig: int) -> None:
        if sig in (signal.SIGTERM, signal.SIGINT, signal.SIGKILL):
            self.expected_exit = True
        self.proc.send_signal(sig)

    def wait(self, timeout: float) -> int:
        return self.proc.wait(timeout)

    def kill(self) -> None:
        self.expected_exit = True
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self, timeout: float = 10.0) -> str | None:
        """Stop it; return a complaint when it crashed or did not stop cleanly."""
        problem = None
        rc = self.proc.poll()
        if rc is not None and not self.expected_exit:
            problem = f"gateway exited on its own during the test (exit status {rc})"
        elif rc is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(timeout)
                if rc != 0:
                    problem = f"gateway exited with status {rc} after SIGTERM"
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                problem = f"gateway did not exit within {timeout}s of SIGTERM"
        self._reader.join(2)
        self._stderr.close()
        return problem


@pytest.fixture
def gateway(portcullis_bin, tmp_path, request):
    """Factory: gateway(config_text) starts the binary with that route file (``${PORT}`` is replaced by
    a free port) and waits until it listens. Every gateway is stopped at teardown; a crash fails the test."""
    started: list[Gateway] = []

    def start(config_text: str, wait: bool = True, port: int | None = None) -> Gateway:
        d = tmp_path / f"gw{len(started)}"
        d.mkdir()
        g = Gateway(portcullis_bin, config_text, d, port=port, wait=wait)
        started.append(g)
        return g

    yield start
    problems = []
    for g in started:
        p = g.stop()
        err = g.stderr_text() if g.stderr_path.exists() else ""
        if err.strip():
            print(f"--- gateway {g.port} stderr (tail) ---\n{err[-3000:]}")
        if p:
            problems.append(f"{p}\nstderr tail:\n{err[-2000:]}")
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture
def gw(gateway, upstream):
    """A gateway with the standard route file in front of the Python upstream."""
    return gateway(gwconf.config(upstream.port))


def run_cli(binary: str, *args: str, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run([binary, *args], capture_output=True, text=True, timeout=timeout)
