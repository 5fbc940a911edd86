"""Start `streamlit run` on a local port; launch Debian's chromium (no download)."""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

from morph_core.cli import SERVER_ENV, serve_command
from morph_core.settings import PROJECT_ROOT

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def start_streamlit(
    env: dict[str, str], timeout_s: float = 90, log: Path | None = None
) -> tuple[subprocess.Popen, str]:
    """The dashboard as ``python -m morph_core serve`` starts it (public when
    ``env`` sets MORPH_MODE=public), on a free 127.0.0.1 port; waits for health.
    Its output goes to ``log`` (a new temporary file by default: a pipe nobody
    reads would stop the server once full)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    public = env.get("MORPH_MODE") == "public"
    if log is None:
        handle, name = tempfile.mkstemp(prefix="morph-streamlit-", suffix=".log")
        os.close(handle)
        log = Path(name)
    output = open(log, "wb")  # noqa: SIM115 - the server keeps writing to it
    process = subprocess.Popen(
        serve_command(public, "127.0.0.1", port),
        cwd=PROJECT_ROOT,
        env=os.environ | SERVER_ENV | env,
        stdout=output,
        stderr=subprocess.STDOUT,
    )
    output.close()  # the server holds its own handle
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).status == 200:
                return process, url
        except OSError:
            time.sleep(0.5)
    process.kill()
    said = log.read_bytes().decode(errors="replace")[-2000:]
    raise RuntimeError(f"streamlit did not start: {said}")


def chromium_available() -> bool:
    return Path(CHROMIUM).exists()


def launch_chromium(playwright):
    """Debian's chromium through Playwright, flags for a closed network."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def lasso(page, left: float = 0.0, right: float = 1.0) -> None:
    """Draw a lasso around a vertical band (fractions of the width) of a Plotly map."""
    drag = page.locator(".js-plotly-plot .nsewdrag").first
    drag.wait_for()
    box = drag.bounding_box()
    x0 = box["x"] + 3 + left * (box["width"] - 6)
    x1 = box["x"] + 3 + right * (box["width"] - 6)
    y0, y1 = box["y"] + 3, box["y"] + box["height"] - 3
    page.mouse.move(x0, y0)
    page.mouse.down()
    for x, y in [(x1, y0), (x1, y1), (x0, y1), (x0, y0 + 5)]:
        page.mouse.move(x, y, steps=12)
    page.mouse.up()


def start_head_run(page, column: str = "smooth-or-featured_smooth_fraction") -> None:
    """On the fine-tune monitor: start a run learning ``column`` from 4 labels
    per class (the caller checks whether it was queued or refused)."""
    page.get_by_label("Column", exact=True).click()
    page.keyboard.type(column)
    page.get_by_role("option", name=column).click()
    labels = page.get_by_role("spinbutton", name="Labels per class")
    labels.fill("4")
    labels.press("Enter")
    page.get_by_role("button", name="Start run").click()
