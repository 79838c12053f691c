"""SIGHUP reloads under load: 20 reloads alternating two valid route files and broken ones while a client
loop runs (keep-alive and fresh connections). No request may fail, and after each reload the right file is
in force: A sends /r/ to upstream port 0 with `auth: off`; B sends it to upstream port 1 and requires a token
(and maps `sub` to X-Gen-User). A broken file leaves the previous one in force and says why on stderr."""
from __future__ import annotations

import re
import signal
import threading
import time


from authlib import auth_config, bearer, claims, hs_token, keyring  # noqa: F401 (fixture)
from httpc import ProtocolError, RawConn, build_request, request

OK_RE = re.compile(r"^portcullis: configuration reloaded \(generation (\d+)\)$", re.M)
FAIL_RE = re.compile(r"^portcullis: reload failed.*the running configuration stays in force$", re.M)


def config_a(up, kr) -> str:
    return auth_config(
        up.port, limits={"idle_timeout": "30s"},
        upstreams=(f'  a: {{ servers: ["http://127.0.0.1:{up.ports[0]}"] }}\n'
                   f'  b: {{ servers: ["http://127.0.0.1:{up.ports[1]}"] }}\n'),
        keys=f'  hs: {{ algorithms: [HS256], secret: {{ value: "{kr.hmac.decode()}" }} }}\n',
        routes=("  - { name: r-a, match: { path_prefix: /r/ }, upstream: a, auth: off }\n"
                "  - { name: slow-a, match: { path_prefix: /s/ }, strip_prefix: /s, upstream: a, auth: off }\n"
                "  - name: only-a\n    match: { path: /only-a }\n    upstream: a\n    auth: off\n"))


def config_b(up, kr) -> str:
    return auth_config(
        up.port, limits={"idle_timeout": "30s"},
        upstreams=(f'  a: {{ servers: ["http://127.0.0.1:{up.ports[0]}"] }}\n'
                   f'  b: {{ servers: ["http://127.0.0.1:{up.ports[1]}"] }}\n'),
        keys=f'  hs: {{ algorithms: [HS256], secret: {{ value: "{kr.hmac.decode()}" }} }}\n',
        routes=("  - { name: slow-b, match: { path_prefix: /s/ }, strip_prefix: /s, upstream: b, auth: off }\n"
                "  - name: r-b\n    match: { path_prefix: /r/ }\n    upstream: b\n    auth:\n      keys: [hs]\n"
                '      tokens: [ { header: Authorization, prefix: "Bearer " } ]\n'
                "      forward: { claims_to_headers: { sub: X-Gen-User } }\n"))


BROKEN = [
    ("unknown upstream", lambda a: a.replace("upstream: a, auth: off", "upstream: nope, auth: off")),
    ("yaml syntax", lambda a: a.replace("match: { path_prefix: /r/ }", "match: { path_prefix: /r/")),
    ("empty secret", lambda a: re.sub(r'value: "[^"]*"', 'value: ""', a)),
    ("no auth", lambda a: a.replace(", auth: off }", " }")),
    ("unknown key", lambda a: a.replace("auth: off }", "auth: off, upstraem: a }")),
    ("bad regex", lambda a: a.replace("match: { path: /only-a }", "match: { path_regex: '([' }")),
    ("truncated", lambda a: a[: len(a) // 3]),
]


class Loader:
    """Client loop: alternates a keep-alive connection (reopened when the server asks to close) with fresh
    connections; every request carries a valid token, so under A and B alike the answer must be 200."""

    def __init__(self, port: int, token: str, path: str = "/r/load", max_requests: int = 200000):
        self.port = port
        self.path = path
        self.token = token
        self.stop = threading.Event()
        self.ok = 0
        self.failures: list[str] = []
        self.max = max_requests
        self.thread = threading.Thread(target=self.run, daemon=True)

    def one(self, conn: RawConn) -> bool:
        conn.send(build_request("GET", f"{self.path}{'&' if '?' in self.path else '?'}n={self.ok}", headers=[bearer(self.token)]))
        r = conn.read_response()
        if r.status != 200:
            self.failures.append(f"status {r.status}: {r.body[:200]!r}")
        else:
            self.ok += 1
        return not r.wants_close()

    def run(self) -> None:
        conn = None
        i = 0
        while not self.stop.is_set() and self.ok + len(self.failures) < self.max:
            i += 1
            try:
                if i % 3 == 0:
                    with RawConn(self.port, timeout=10) as c:  # a fresh connection per request
                        self.one(c)
                else:
                    if conn is None:
                        conn = RawConn(self.port, timeout=10)
                    if not self.one(conn):
                        conn.close()
                        conn = None
            except (OSError, ProtocolError) as e:
                self.failures.append(f"{type(e).__name__}: {e}")
                if conn:
                    conn.close()
                conn = None
        if conn:
            conn.close()


def wait_reload(gw, n_ok: int, n_fail: int, timeout: float = 15.0) -> str:
    """Wait until the stderr shows one more reload result than before; return "ok" or "fail"."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        err = gw.stderr_text()
        ok, fail = len(OK_RE.findall(err)), len(FAIL_RE.findall(err))
        if ok + fail > n_ok + n_fail:
            assert ok + fail == n_ok + n_fail + 1, f"more than one reload result appeared:\n{err[-2000:]}"
            return "ok" if ok > n_ok else "fail"
        time.sleep(0.02)
    raise AssertionError(f"no reload result on stderr within {timeout}s:\n{gw.stderr_text()[-2000:]}")


def assert_in_force(gw, up, which: str, token: str) -> None:
    """Probe with fresh connections: which upstream answers /r/, and whether a token is needed."""
    r = request(gw.port, "GET", "/r/probe", headers=[bearer(token)])
    assert r.status == 200, r
    want_port = up.ports[0] if which == "A" else up.ports[1]
    assert r.header("x-upstream-port") == str(want_port), (which, r)
    import json
    seen = json.loads(r.body)
    users = [v for k, v in seen["headers"] if k.lower() == "x-gen-user"]
    assert users == ([] if which == "A" else ["loader"]), (which, seen["headers"])
    r = request(gw.port, "GET", "/r/probe")
    assert r.status == (200 if which == "A" else 401), (which, r)
    r = request(gw.port, "GET", "/only-a")
    assert r.status == (200 if which == "A" else 404), (which, r)


# 20 SIGHUPs: "A", "B" or an index into BROKEN
SEQUENCE = ["B", "A", 0, "B", 1, "A", "B", 2, "A", "B", 3, 4, "A", "B", "A", 5, "B", "A", 6, "B"]


def test_twenty_sighups_under_load(gateway, upstream, keyring):
    assert len(SEQUENCE) == 20
    text_a, text_b = config_a(upstream, keyring), config_b(upstream, keyring)
    gw = gateway(text_a)
    token = hs_token(keyring.hmac, claims(sub="loader", exp=None, iat=None) | {"exp": int(time.time()) + 3600})
    assert_in_force(gw, upstream, "A", token)

    loader = Loader(gw.port, token)
    loader2 = Loader(gw.port, token)
    slow = Loader(gw.port, token, path="/s/slow?ms=150")  # requests in flight across every reload
    for t in (loader, loader2, slow):
        t.thread.start()
    in_force = "A"
    n_ok = n_fail = 0
    generations = []
    try:
        time.sleep(0.3)
        for step, what in enumerate(SEQUENCE):
            if what == "A":
                gw.write_config(text_a)
            elif what == "B":
                gw.write_config(text_b)
            else:
                name, breaker = BROKEN[what]
                broken = breaker(text_a)
                assert broken != text_a and broken != text_b
                gw.write_config(broken)
            before = loader.ok
            time.sleep(0.05)  # let the slow loader have a request in flight
            gw.signal(signal.SIGHUP)
            result = wait_reload(gw, n_ok, n_fail)
            if isinstance(what, str):
                assert result == "ok", f"step {step}: valid file {what} failed to load:\n{gw.stderr_text()[-2000:]}"
                n_ok += 1
                in_force = what
                generations.append(int(OK_RE.findall(gw.stderr_text())[-1]))
            else:
                assert result == "fail", f"step {step}: broken file ({BROKEN[what][0]}) was accepted"
                n_fail += 1
            assert_in_force(gw, upstream, in_force, token)
            # let the loader make progress across every reload
            deadline = time.monotonic() + 5
            while loader.ok < before + 20 and time.monotonic() < deadline and loader.thread.is_alive():
                time.sleep(0.01)
            assert gw.alive(), gw.stderr_text()[-2000:]
    finally:
        for t in (loader, loader2, slow):
            t.stop.set()
        for t in (loader, loader2, slow):
            t.thread.join(20)
    for t in (loader, loader2, slow):
        assert not t.thread.is_alive()
        assert t.failures == [], f"{t.path}: {len(t.failures)} failed of {t.ok + len(t.failures)}: {t.failures[:10]}"
    assert loader.ok >= 20 * 20, loader.ok
    assert slow.ok >= 5, slow.ok
    assert n_ok == 13 and n_fail == 7
    assert generations == list(range(generations[0], generations[0] + 13)), generations
    # each broken file's reason reached stderr with a position in the file
    err = gw.stderr_text()
    path = str(gw.config_path)
    assert len(re.findall(re.escape(path) + r":\d+:\d+: ", err)) >= 7, err[-3000:]


def test_broken_reload_reports_position_and_keeps_config(gateway, upstream, keyring):
    text_a = config_a(upstream, keyring)
    gw = gateway(text_a)
    token = hs_token(keyring.hmac, claims(sub="loader"))
    gw.write_config(text_a.replace("upstream: a, auth: off", "upstream: nope, auth: off"))
    gw.signal(signal.SIGHUP)
    assert wait_reload(gw, 0, 0) == "fail"
    err = gw.stderr_text()
    m = re.search(re.escape(str(gw.config_path)) + r":(\d+):(\d+): routes\[0\]\.upstream: unknown upstream \"nope\"",
                  err)
    assert m, err
    line = gw.config_text.splitlines()[int(m.group(1)) - 1]
    assert line[int(m.group(2)) - 1:].startswith("nope"), (line, m.groups())
    assert_in_force(gw, upstream, "A", token)


def test_reload_with_config_file_removed(gateway, upstream, keyring):
    gw = gateway(config_a(upstream, keyring))
    token = hs_token(keyring.hmac, claims(sub="loader"))
    gw.config_path.unlink()
    gw.signal(signal.SIGHUP)
    assert wait_reload(gw, 0, 0) == "fail"
    assert_in_force(gw, upstream, "A", token)


def test_reload_switches_auth_on_open_keep_alive_connection(gateway, upstream, keyring):
    """A keep-alive connection opened under A: after the switch to B, its next request follows B (the
    route table is per request), or the gateway closes the connection cleanly -- it never answers under A
    once B is installed and the connection sits idle."""
    text_a, text_b = config_a(upstream, keyring), config_b(upstream, keyring)
    gw = gateway(text_a)
    with RawConn(gw.port) as c:
        c.send(build_request("GET", "/r/ka"))
        assert c.read_response().status == 200
        gw.write_config(text_b)
        gw.signal(signal.SIGHUP)
        assert wait_reload(gw, 0, 0) == "ok"
        if c.closed_by_peer(0.2):
            return
        c.send(build_request("GET", "/r/ka"))
        r = c.read_response()
        assert r.status == 401, r
