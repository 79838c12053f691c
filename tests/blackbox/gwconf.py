"""Route-file builders for the black-box tests. `${PORT}` is replaced by the gateway fixture."""
from __future__ import annotations

DEFAULT_LIMITS = {
    "header_timeout": "1s",
    "idle_timeout": "5s",
    "upstream_connect_timeout": "1s",
    "upstream_timeout": "2s",
    "max_header_bytes": 8192,
    "max_header_count": 100,
    "max_body_bytes": 2147483648,
    "max_connections": 1000,
    "drain_timeout": "5s",
}

DEFAULT_ROUTES = """\
  - { name: dead, match: { path_prefix: /dead/ }, upstream: dead, auth: off }
  - { name: gets, match: { path_prefix: /only-get/, methods: [GET] }, upstream: echo, auth: off }
  - { name: vhost, match: { host: "*.example.com", path_prefix: /v/ }, upstream: echo, auth: off }
  - { name: exact, match: { path: [/exact, /also] }, upstream: echo, auth: off }
  - { name: rx, match: { path_regex: '^/rx/[0-9]+$' }, upstream: echo, auth: off }
  - { name: all, match: { path_prefix: / }, upstream: echo, auth: off }
"""


def config(up_port: int, *, workers: int = 2, trusted: str = "[10.0.0.0/8]", limits: dict | None = None,
           routes: str | None = None, upstreams: str | None = None) -> str:
    lim = dict(DEFAULT_LIMITS)
    lim.update(limits or {})
    lim_text = "".join(f"  {k}: {v}\n" for k, v in lim.items())
    ups = upstreams if upstreams is not None else (
        f'  echo:  {{ servers: ["http://127.0.0.1:{up_port}"] }}\n'
        '  dead:  { servers: ["http://127.0.0.1:1"] }\n')
    return (
        f"workers: {workers}\n"
        "listen:\n"
        '  - address: "127.0.0.1:${PORT}"\n'
        f"trusted_proxies: {trusted}\n"
        "limits:\n" + lim_text +
        "upstreams:\n" + ups +
        "routes:\n" + (routes if routes is not None else DEFAULT_ROUTES)
    )
