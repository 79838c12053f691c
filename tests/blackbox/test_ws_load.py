"""Tunnels under load: back-pressure in both directions (gateway memory stays bounded when one side stops
reading) and 1,000 concurrent authenticated tunnels."""
from __future__ import annotations

import asyncio
import socket
import time

import pytest

import wslib
from wslib import OP_BIN, RawWSClient, mint  # noqa: E402
from wslib import _raw_up_session, _ws_up_session, raw_up, ws_up  # noqa: F401  (fixtures)

MIB = 1 << 20


def routes() -> str:
    return (
        "  - { name: ws, match: { path_prefix: /ws/ }, upstream: wsup, websocket: true, "
        f"auth: {wslib.auth_block('[ { query: access_token } ]')} }}\n"
        "  - { name: raw, match: { path_prefix: /raw/ }, upstream: raw, websocket: true, auth: off }\n"
    )


@pytest.fixture
def gw(gateway, ws_up, raw_up):
    wslib.raise_nofile(65536)  # inherited by the gateway started below
    return gateway(wslib.config({"wsup": ws_up.port, "raw": raw_up.port}, routes(), workers=1))


def warm_up(g) -> None:
    """One tunnel through, so that one-time allocations are in the baseline."""
    c = RawWSClient(g.port, "/raw/echo")
    assert c.status == 101
    c.send_frame(OP_BIN, b"x" * 100_000)
    assert len(c.read_frame()[2]) == 100_000
    c.close()
    time.sleep(0.2)


def test_backpressure_client_stops_reading(gw, raw_up):
    """The upstream floods 64 KiB frames; the client reads nothing. The gateway must stop reading the
    upstream (the upstream's writes stall) and its RSS must stay bounded; when the client reads again
    everything arrives intact and in order."""
    warm_up(gw)
    raw_up.reset()
    base = gw.status()
    size = 65536
    c = RawWSClient(gw.port, f"/raw/flood?size={size}", rcvbuf=65536)
    try:
        assert c.status == 101
        time.sleep(3)
        s1, rss1 = raw_up.records_copy()[0]["sent_bytes"], gw.rss_kib()
        time.sleep(2)
        s2, st2 = raw_up.records_copy()[0]["sent_bytes"], gw.status()
        print(f"upstream wrote {s1 / MIB:.1f} MiB after 3 s, {s2 / MIB:.1f} MiB after 5 s; gateway RSS "
              f"{base['VmRSS']} -> {rss1} -> {st2['VmRSS']} KiB, HWM {st2['VmHWM']} KiB")
        assert s2 - s1 < 2 * MIB, f"the upstream kept writing ({(s2 - s1) / MIB:.1f} MiB in 2 s): no back-pressure"
        assert s2 < 48 * MIB, f"{s2 / MIB:.1f} MiB accepted from the upstream while the client read nothing"
        grew = st2["VmRSS"] - base["VmRSS"]
        assert grew < 32 * 1024, f"gateway RSS grew by {grew} KiB while the client was not reading"
        # read again: every frame whole and in order, and the flood resumes
        c.sock.settimeout(10)
        i = 0
        want = s2 + 8 * MIB
        got = 0
        while got < want:
            fin, op, payload = c.read_frame()
            assert (fin, op, len(payload)) == (1, OP_BIN, size), (fin, op, len(payload))
            assert payload == wslib.pattern_frame_payload(i, size), f"frame {i} corrupted"
            got += len(payload)
            i += 1
        assert raw_up.records_copy()[0]["sent_bytes"] > s2, "the upstream was not resumed"
        assert gw.hwm_kib() - base["VmRSS"] < 48 * 1024
    finally:
        c.close()


def test_backpressure_upstream_stops_reading(gw, raw_up):
    """The client floods; the upstream reads nothing: the client's writes must stall, RSS stays bounded."""
    warm_up(gw)
    raw_up.reset()
    base = gw.rss_kib()
    c = RawWSClient(gw.port, "/raw/sink?read=0")
    sent = 0
    try:
        assert c.status == 101
        frame = wslib.encode_frame(OP_BIN, b"\xab" * 65536, mask=True)
        c.sock.settimeout(2)
        t_end = time.monotonic() + 20
        while time.monotonic() < t_end:
            try:
                sent += c.sock.send(frame)
            except socket.timeout:
                break
        else:
            raise AssertionError(f"the client could send {sent / MIB:.0f} MiB without stalling")
        time.sleep(0.5)
        st = gw.status()
        print(f"client wrote {sent / MIB:.1f} MiB before stalling; gateway RSS {base} -> {st['VmRSS']} KiB")
        assert sent < 48 * MIB, f"{sent / MIB:.1f} MiB accepted while the upstream read nothing"
        assert st["VmRSS"] - base < 32 * 1024, f"gateway RSS grew by {st['VmRSS'] - base} KiB"
    finally:
        c.close()


def test_1000_concurrent_tunnels(gw, ws_up):
    n = 1000
    limit = wslib.nofile_soft(gw.pid)
    assert limit >= 2 * n + 100, f"gateway fd limit {limit} too low for {n} tunnels (test setup)"
    tok = mint()
    url = f"ws://127.0.0.1:{gw.port}/ws/echo?access_token={tok}"
    base = gw.rss_kib()

    async def main():
        from websockets.asyncio.client import connect
        sem = asyncio.Semaphore(100)
        conns = [None] * n

        async def one(i):
            async with sem:
                ws = await connect(url, proxy=None, compression=None, ping_interval=None, open_timeout=30)
                await ws.send(f"hello {i}")
                assert await asyncio.wait_for(ws.recv(), 30) == f"hello {i}"
                conns[i] = ws
        t0 = time.monotonic()
        await asyncio.gather(*(one(i) for i in range(n)))
        t_open = time.monotonic() - t0
        await asyncio.sleep(0.5)
        st = gw.status()
        fds = wslib.open_fds(gw.pid)
        active = ws_up.active
        # every tunnel still works while all are open
        await asyncio.gather(*(c.send(f"again {i}") for i, c in enumerate(conns)))
        got = await asyncio.gather(*(asyncio.wait_for(c.recv(), 30) for c in conns))
        assert got == [f"again {i}" for i in range(n)]
        await asyncio.gather(*(c.close() for c in conns))
        return t_open, st, fds, active

    t_open, st, fds, active = asyncio.run(main())
    print(f"{n} tunnels opened in {t_open:.1f}s; gateway fds {fds}, RSS {base} -> {st['VmRSS']} KiB "
          f"({(st['VmRSS'] - base) * 1024 / n / 1024:.1f} KiB/tunnel), threads {st.get('Threads')}")
    assert active == n, f"upstream had {active} live connections, expected {n}"
    assert fds >= 2 * n, f"gateway holds {fds} fds for {n} tunnels"
    assert wslib.wait_for(lambda: ws_up.active == 0 and all(r["closed"] for r in ws_up.records_copy()), 15)
    recs = ws_up.records_copy()
    assert len(recs) == n and all(r["close_code"] == 1000 for r in recs)
    assert all(tok not in r["path"] for r in recs)
    assert wslib.wait_for(lambda: wslib.open_fds(gw.pid) < 100, 10), \
        f"gateway still holds {wslib.open_fds(gw.pid)} fds after every tunnel closed"
    assert sum(1 for e in gw.access_log() if e.get("status") == 101) == n
