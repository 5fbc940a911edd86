"""A public demo refuses an oversized websocket message at its header, before
reading it (Streamlit's default let a stranger's 150 MB message take 310 MB of
the server's memory), and goes on serving."""

import asyncio
import re
from pathlib import Path

import pytest
import websockets

from tests.browser import wire

pytestmark = [pytest.mark.slow]


def test_an_oversized_message_is_refused_unread_and_the_server_serves_on(
    public_served,
):
    async def send_oversized() -> websockets.ConnectionClosed:
        socket = await websockets.connect(
            public_served.url.replace("http", "ws", 1) + "/_stcore/stream",
            subprotocols=["streamlit"],
        )
        try:
            await socket.send(b"\0" * 64 * 2**20)
            await asyncio.wait_for(socket.recv(), 30)
        except websockets.ConnectionClosed as closed:
            return closed
        finally:
            await socket.close()
        raise AssertionError("the server read a 64 MB message")

    async def visit() -> wire.Page:
        tab = wire.Wire(public_served.url, timeout_s=60)
        try:
            return await tab.open("anomaly_rater")
        finally:
            await tab.close()

    before = _peak_mib(public_served.pid)
    closed = asyncio.run(send_oversized())
    assert closed.rcvd.code == 1009  # message too big
    assert _peak_mib(public_served.pid) - before < 16  # (64 MB read: +128 MiB)
    assert asyncio.run(visit()).has_text("Rate these")


def _peak_mib(pid: int) -> float:
    """The process's peak resident memory so far, MiB (Linux)."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024
