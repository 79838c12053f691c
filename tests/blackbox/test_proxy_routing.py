"""Routing: first match wins over host, exact paths, prefixes, regexes and methods; paths are matched after
normalisation while the request target is forwarded byte for byte."""
import pytest

import gwconf
from httpc import RawConn, build_request, request

ROUTES = """\
  - { name: dead, match: { path_prefix: /dead/ }, upstream: dead, auth: off }
  - { name: gets, match: { path_prefix: /only-get/, methods: [GET] }, upstream: u_gets, auth: off }
  - { name: vhost, match: { host: "*.example.com", path_prefix: /v/ }, upstream: u_vhost, auth: off }
  - { name: exact, match: { path: [/exact, /also] }, upstream: u_exact, auth: off }
  - { name: rx, match: { path_regex: '^/rx/[0-9]+$' }, upstream: u_rx, auth: off }
  - { name: all, match: { path_prefix: / }, upstream: u_all, auth: off }
"""
NAMES = ["all", "gets", "vhost", "exact", "rx"]


@pytest.fixture
def rgw(gateway, upstream):
    """A gateway whose routes each lead to their own upstream port, so the port that answers names the route."""
    ups = "".join(f'  u_{n}: {{ servers: ["http://127.0.0.1:{upstream.ports[i]}"] }}\n' for i, n in enumerate(NAMES))
    ups += '  dead: { servers: ["http://127.0.0.1:1"] }\n'
    g = gateway(gwconf.config(upstream.port, routes=ROUTES, upstreams=ups))
    g.route_of_port = {upstream.ports[i]: n for i, n in enumerate(NAMES)}
    return g


def route(g, method, target, host="gw.test", body=None):
    r = request(g.port, method, target, host=host, body=body)
    assert r.status == 200, f"{method} {target} Host: {host} -> {r}"
    port = r.header("x-upstream-port")
    assert port, f"no X-Upstream-Port in {r}"
    return g.route_of_port[int(port)], r


CASES = [
    # method, target, host, expected route
    ("GET", "/only-get/x", "gw.test", "gets"),
    ("HEAD", "/only-get/x", "gw.test", "all"),
    ("POST", "/only-get/x", "gw.test", "all"),
    ("DELETE", "/only-get/", "gw.test", "all"),
    ("GET", "/only-getx", "gw.test", "all"),
    ("GET", "/v/1", "a.example.com", "vhost"),
    ("GET", "/v/1", "a.example.com:8080", "vhost"),
    ("GET", "/v/1", "A.Example.COM", "vhost"),
    ("GET", "/v/1", "example.com", "all"),
    ("GET", "/v/1", "a.example.org", "all"),
    ("GET", "/w/1", "a.example.com", "all"),
    ("GET", "/exact", "gw.test", "exact"),
    ("GET", "/also", "gw.test", "exact"),
    ("GET", "/exact?q=1", "gw.test", "exact"),
    ("GET", "/exact/", "gw.test", "all"),
    ("GET", "/exactly", "gw.test", "all"),
    ("GET", "/rx/123", "gw.test", "rx"),
    ("GET", "/rx/123?x=y", "gw.test", "rx"),
    ("GET", "/rx/12a", "gw.test", "all"),
    ("GET", "/rx/", "gw.test", "all"),
    ("GET", "/anything/else", "gw.test", "all"),
]


@pytest.mark.parametrize("method,target,host,expected", CASES,
                         ids=[f"{m}-{t}-{h}" for m, t, h, _ in CASES])
def test_route_selection(rgw, upstream, method, target, host, expected):
    got, r = route(rgw, method, target, host, body=b"x" if method == "POST" else None)
    assert got == expected, f"{method} {target} (Host {host}) went to route {got!r}, expected {expected!r}"
    assert upstream.requests()[-1]["target"] == target


@pytest.mark.parametrize("target,expected", [
    ("/only-get/../exact", "exact"),
    ("//exact", "exact"),
    ("/./exact", "exact"),
    ("/a/b/../../also", "exact"),
    ("/x/../rx/5", "rx"),
    ("/rx//7", "rx"),
    ("/only-get//x", "gets"),
    ("/exact/.", "all"),  # RFC 3986 5.2.4: "/exact/." -> "/exact/"
])
def test_route_uses_normalised_path_and_forwards_raw_target(rgw, upstream, target, expected):
    """The normalised path decides the route; the upstream receives the raw target unchanged."""
    with RawConn(rgw.port) as c:
        c.send(build_request("GET", target))
        r = c.read_response()
    assert r.status == 200, r
    d = r.json()
    assert rgw.route_of_port[d["port"]] == expected, f"{target} routed to {rgw.route_of_port[d['port']]}"
    assert d["target"] == target, "the request target must be forwarded byte for byte"


SECURE_LINK = ("/cache/files/data/abc_123/output.docx/output.docx"
               "?md5=N0xuZli5qv1co7csK7XljQ&expires=1762748001&shardkey=Khirz6zTPdfd7&filename=output.docx")


@pytest.mark.parametrize("target", [
    SECURE_LINK,
    "/a%2Fb/%7Euser/x%20y?q=a+b&r=%20&empty=&dup=1&dup=2",
    "/p;param=1/q?b=2&a=1",
    "/only-get/../exact?z=1&a=2",
    "/*star*/~tilde!$&'()*+,;=:@?q=/?",
])
def test_target_forwarded_byte_for_byte(rgw, upstream, target):
    with RawConn(rgw.port) as c:
        c.send(build_request("GET", target))
        r = c.read_response()
    assert r.status == 200, r
    recs = upstream.requests()
    assert len(recs) == 1
    assert recs[0]["target"] == target


def test_no_route_gives_404_json(gateway, upstream):
    routes = ("  - { name: exact, match: { path: /exact }, upstream: echo, auth: off }\n"
              "  - { name: gets, match: { path_prefix: /only-get/, methods: [GET] }, upstream: echo, auth: off }\n")
    g = gateway(gwconf.config(upstream.port, routes=routes))
    for method, target in [("GET", "/nothing"), ("GET", "/exact/x"), ("POST", "/only-get/a")]:
        r = request(g.port, method, target, body=b"abc" if method == "POST" else None)
        assert r.status == 404, f"{method} {target}: {r}"
        body = r.json()
        assert "error" in body and isinstance(body["error"], str), body
        assert "json" in (r.header("content-type") or ""), r.headers
    assert request(g.port, "GET", "/exact").status == 200
    recs = upstream.requests()
    assert [x["target"] for x in recs] == ["/exact"], "unrouted requests must not reach the upstream"


def test_dead_upstream_502(gw, upstream):
    r = request(gw.port, "GET", "/dead/x")
    assert r.status == 502, r
    r.error_json()
