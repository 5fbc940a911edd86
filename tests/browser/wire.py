"""A visitor that speaks Streamlit's websocket protocol, without a browser.

It sends what the browser sends (``BackMsg``: a script run with the URL's page
and query, the widget values, a component's trigger, a file upload through
``/_stcore/upload_file``) and reads what the server answers (``ForwardMsg``),
so one process can play dozens of visitors at a cost of milliseconds each: the
load benchmark uses it to measure the server (chromium contexts on the same two
cores measured mostly the browsers rendering), and a test drives a crowd of
raters with it.

What it does not do is what the page's JavaScript does on the visitor's own
machine: draw the elements and fetch media. ``Wire`` waits for what a visitor
would wait for: the script run settled and the expected content sent.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import websockets
from streamlit.components.v2.bidi_component.main import _make_trigger_id
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.Common_pb2 import FileUploaderState, UploadedFileInfo
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

SETTLED = {
    ForwardMsg.FINISHED_SUCCESSFULLY,
    ForwardMsg.FINISHED_WITH_COMPILE_ERROR,
    ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY,
}
TEXT_FIELDS = {  # element -> its text field
    "heading": "body",
    "markdown": "body",
    "alert": "body",
    "metric": "label",
}


@dataclass
class Page:
    """What the server has sent of the current page: widgets by key, texts,
    components' data, and a counter of settled script runs."""

    widgets: dict[str, object] = field(default_factory=dict)  # user key -> proto
    fragments: dict[str, str] = field(default_factory=dict)  # user key -> fragment
    texts: list[str] = field(default_factory=list)
    data: dict[str, dict] = field(default_factory=dict)  # component key -> data
    renders: dict[str, int] = field(default_factory=dict)  # component key -> count
    fragment_ids: set[str] = field(default_factory=set)  # of the page's fragments
    settled: int = 0

    def has_text(self, needle: str) -> bool:
        return any(needle in text for text in self.texts)


class Wire:
    """One visitor's connection (one browser tab): open a page, change widgets."""

    def __init__(self, url: str, timeout_s: float = 120):
        self.url, self.timeout_s = url, timeout_s
        self.query, self.page_hash, self.session_id = "", "", ""
        self.page = Page()
        self.errors: list[str] = []  # exceptions and error messages, every page
        self.values: dict[str, WidgetState] = {}  # widget id -> value sent
        self._changed = asyncio.Event()
        self._socket = None
        self._reader: asyncio.Task | None = None
        self._file_urls: dict[str, object] = {}

    async def open(self, page_name: str = "", query: str = "") -> Page:
        """A new tab on ``/<page_name>?<query>``; returns once its run settled."""
        await self.close()
        self.page, self.values, self.query = Page(), {}, query
        self._socket = await websockets.connect(
            self.url.replace("http", "ws", 1) + "/_stcore/stream",
            subprotocols=["streamlit"],
            max_size=None,
            open_timeout=self.timeout_s,
        )
        self._reader = asyncio.create_task(self._read())
        message = BackMsg()
        message.rerun_script.query_string = query
        message.rerun_script.page_name = page_name
        before = self.page.settled
        await self._socket.send(message.SerializeToString())
        await self.until(lambda page: page.settled > before)
        return self.page

    async def close(self) -> None:
        if self._socket is not None:
            await self._socket.close()
            self._reader.cancel()
            self._socket = None

    def widget(self, key: str):
        """The latest proto of the widget with user key ``key``."""
        return self.page.widgets[key]

    async def set(self, key: str, until: Callable[[Page], bool] | None = None, **value):
        """Change the widget ``key`` (``string_value=...``, ``double_value=...``,
        ``trigger_value=True``, ``json_trigger_value=...``, ...) and wait for the
        rerun it causes to settle (and ``until`` to hold)."""
        proto = self.widget(key)
        state = WidgetState(id=proto.id, **value)
        await self._rerun([state], self.page.fragments.get(key, ""), until)

    def fill(self, key: str, **value) -> None:
        """Fill the widget ``key`` inside a form: kept and sent with the next
        rerun (the form's submit), as a browser does; nothing reruns now."""
        proto = self.widget(key)
        self.values[proto.id] = WidgetState(id=proto.id, **value)

    async def trigger(self, key: str, event: str, payload, until=None) -> None:
        """A component's trigger (``setTriggerValue(event, payload)`` in its JS),
        waiting for the rerun (and ``until``)."""
        before = await self.send_trigger(key, event, payload)
        await self.until(
            lambda page: page.settled > before and (until is None or until(page))
        )

    async def send_trigger(self, key: str, event: str, payload) -> int:
        """Send a component's trigger without waiting, as a page's script does;
        returns the count of settled runs before it."""
        proto = self.widget(key)
        state = WidgetState(
            id=_make_trigger_id(proto.id, "events"),  # every event goes through one
            json_trigger_value=json.dumps([{"event": event, "value": payload}]),
        )
        return await self._send([state], self.page.fragments.get(key, ""))

    async def upload(self, key: str, name: str, content: bytes, until=None) -> None:
        """Upload a file through the file uploader ``key``, as the browser does:
        ask for an upload URL, PUT the file there, then send the uploader's state."""
        request_id = secrets.token_hex(8)
        message = BackMsg()
        message.file_urls_request.request_id = request_id
        message.file_urls_request.file_names.append(name)
        message.file_urls_request.session_id = self.session_id
        await self._socket.send(message.SerializeToString())
        await self._wait(lambda: request_id in self._file_urls)
        urls = self._file_urls.pop(request_id)
        await asyncio.to_thread(self._put, urls.upload_url, name, content)
        info = UploadedFileInfo(
            file_id=urls.file_id, name=name, size=len(content), file_urls=urls
        )
        proto = self.widget(key)
        state = WidgetState(
            id=proto.id,
            file_uploader_state_value=FileUploaderState(uploaded_file_info=[info]),
        )
        await self._rerun([state], self.page.fragments.get(key, ""), until)

    async def rerun_fragment(self, fragment_id: str) -> None:
        """Rerun one fragment, as its ``run_every`` timer does in a browser."""
        await self._rerun([], fragment_id, None)

    async def until(self, condition: Callable[[Page], bool]) -> None:
        """Wait (up to the timeout) until ``condition(page)`` holds."""
        await self._wait(lambda: condition(self.page))

    async def _rerun(self, states, fragment_id: str, until) -> None:
        """Send a rerun; wait for a run to settle after it (and for ``until``)."""
        before = await self._send(states, fragment_id)
        await self.until(
            lambda page: page.settled > before and (until is None or until(page))
        )

    async def _send(self, states, fragment_id: str) -> int:
        """Send a rerun with every value set so far plus ``states`` (triggers
        are sent once); returns the count of settled runs before it."""
        triggers = [s for s in states if "trigger" in s.WhichOneof("value")]
        for state in states:
            if state not in triggers:
                self.values[state.id] = state
        message = BackMsg()
        client = message.rerun_script
        client.query_string = self.query
        client.page_script_hash = self.page_hash
        client.fragment_id = fragment_id
        client.widget_states.widgets.extend([*self.values.values(), *triggers])
        before = self.page.settled
        await self._socket.send(message.SerializeToString())
        return before

    async def _wait(self, condition: Callable[[], bool]) -> None:
        deadline = time.monotonic() + self.timeout_s
        while not condition():
            if self._reader.done():
                self._reader.result()  # raises what stopped the reader
                raise ConnectionError("the server closed the connection")
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no answer within {self.timeout_s} s")
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), min(left, 1.0))
            except TimeoutError:
                continue

    async def _read(self) -> None:
        async for data in self._socket:
            message = ForwardMsg()
            message.ParseFromString(data)
            self._take(message)
            self._changed.set()

    def _take(self, message: ForwardMsg) -> None:
        kind = message.WhichOneof("type")
        page = self.page
        if kind == "new_session":
            if message.new_session.initialize.session_id:
                self.session_id = message.new_session.initialize.session_id
            if not message.metadata.run.fragment_ids:  # a full run: a new page
                page.texts.clear()
        elif kind == "navigation":  # the page shown (after st.navigation)
            self.page_hash = message.navigation.page_script_hash
        elif kind == "page_info_changed":
            self.query = message.page_info_changed.query_string
        elif kind == "script_finished" and message.script_finished in SETTLED:
            page.settled += 1
        elif kind == "file_urls_response":
            response = message.file_urls_response
            self._file_urls[response.response_id] = response.file_urls[0]
        if kind == "delta" and message.delta.fragment_id:
            page.fragment_ids.add(message.delta.fragment_id)
        if kind == "delta" and message.delta.WhichOneof("type") == "new_element":
            element = message.delta.new_element
            name = element.WhichOneof("type")
            proto = getattr(element, name)
            if name == "exception":
                self.errors.append(f"exception: {proto.type}: {proto.message}"[:300])
            elif name in TEXT_FIELDS:
                page.texts.append(getattr(proto, TEXT_FIELDS[name]))
                if name == "alert" and proto.format == proto.ERROR:
                    self.errors.append(f"error shown: {proto.body}"[:300])
            widget_id = getattr(proto, "id", "")
            if widget_id.startswith("$$ID-"):
                key = widget_id.split("-", 2)[2]
                page.widgets[key] = proto
                if name == "bidi_component":
                    page.data[key] = json.loads(proto.json or "null")
                    page.renders[key] = page.renders.get(key, 0) + 1
                page.fragments[key] = message.delta.fragment_id

    def _put(self, upload_url: str, name: str, content: bytes) -> None:
        """PUT one file as multipart form data, with the XSRF cookie and header
        the browser would send (public mode checks them)."""
        base = self.url
        health = f"{base}/_stcore/health"  # sets the XSRF cookie
        with urllib.request.urlopen(health, timeout=self.timeout_s) as response:
            cookie = next(
                (
                    value.split(";")[0]
                    for header, value in response.headers.items()
                    if header.lower() == "set-cookie" and "_streamlit_xsrf" in value
                ),
                "",
            )
        boundary = secrets.token_hex(12)
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
                f'filename="{name}"\r\nContent-Type: application/octet-stream\r\n\r\n'
            ).encode()
            + content
            + f"\r\n--{boundary}--\r\n".encode()
        )
        headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
        if cookie:
            headers |= {"Cookie": cookie, "X-Xsrftoken": cookie.split("=", 1)[1]}
        target = upload_url if upload_url.startswith("http") else base + upload_url
        request = urllib.request.Request(target, body, headers, method="PUT")
        with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
            response.read()


RETRY_S, MAX_RETRY_S = 5.0, 30.0  # as the desk's RETRY_MS and MAX_RETRY_MS


async def rate(tab: Wire, visit, n_clicks: int, rng, pause_s: float) -> None:
    """Rate on the rater page's desk as its JavaScript does when a person clicks
    (:func:`tests.browser.crowd.rate`): each click on the first card not saving,
    a random pause of up to ``pause_s`` (not waiting for the server). One
    message in flight: a click made before the desk was drawn again since the
    last message waits for that render (or 5 s), then every click not yet
    acknowledged goes together; clicks left unacknowledged go again after 5 s,
    then 10, 20 and 30 s. Each click's time until it was acknowledged is
    recorded in ``visit`` (a :class:`crowd.Visit`)."""
    key = "rater.desk"
    pending: dict[str, dict] = {}
    unsent: set[str] = set()
    sent = {"at": 0.0, "renders": tab.page.renders.get(key, 0), "retry_s": RETRY_S}
    waits = []

    def desk() -> dict | None:  # None until the rater page has drawn its desk
        data = tab.page.data.get(key)
        if data is None:
            return None
        for click_id in set(data["acked"]) & set(pending):
            del pending[click_id]
            unsent.discard(click_id)
            sent["retry_s"] = RETRY_S  # the server answers
        return data

    def free_card(data: dict | None) -> str | None:
        if data is None:
            return None
        busy = {c["galaxy_id"] for c in pending.values()}
        return next(
            (c["galaxy_id"] for c in data["cards"] if c["galaxy_id"] not in busy),
            None,
        )

    def in_flight() -> bool:
        drawn = tab.page.renders.get(key, 0) != sent["renders"]
        return sent["at"] > 0 and not drawn and time.perf_counter() - sent["at"] < 5

    def retry_due() -> bool:
        since = time.perf_counter() - sent["at"]
        return bool(pending) and sent["at"] > 0 and since >= sent["retry_s"]

    async def flush() -> None:
        unsent.clear()
        sent.update(at=time.perf_counter(), renders=tab.page.renders.get(key, 0))
        await tab.send_trigger(key, "clicks", list(pending.values()))

    done = False

    async def after_renders() -> None:  # the page's render (or timer) sends again
        while not done:
            try:
                await tab.until(
                    lambda page: done or (unsent and not in_flight()) or retry_due()
                )
            except TimeoutError:
                continue  # nothing waited: the rater paused
            desk()
            if unsent and not in_flight():
                await flush()
            elif retry_due():
                sent["retry_s"] = min(2 * sent["retry_s"], MAX_RETRY_S)
                await flush()

    flusher = asyncio.create_task(after_renders())
    try:
        for _ in range(n_clicks):
            try:
                await tab.until(lambda page: free_card(desk()) is not None)
            except TimeoutError as e:
                data = desk() or {}
                raise TimeoutError(
                    f"{e}: no card free to rate; {len(visit.clicks)} clicked, "
                    f"{len(pending)} pending ({len(unsent)} unsent), desk of "
                    f"{len(data.get('cards', []))} cards drawn "
                    f"{tab.page.renders.get(key, 0)} times ({sent['renders']} at "
                    f"the last send, {time.perf_counter() - sent['at']:.0f} s ago), "
                    f"{tab.page.settled} runs settled, errors {tab.errors[-3:]}, "
                    f"last texts {tab.page.texts[-3:]}"
                ) from e
            data = desk()
            click = {
                "click_id": uuid.uuid4().hex,
                "kind": "rate",
                "batch_id": data["batch_id"],
                "galaxy_id": free_card(data),
                "rating": rng.randrange(6),
            }
            pending[click["click_id"]] = click
            visit.clicks.append((click["galaxy_id"], click["rating"]))
            start = time.perf_counter()
            if in_flight():
                unsent.add(click["click_id"])
            else:
                await flush()
            waits.append(
                asyncio.create_task(_acked(tab, click["click_id"], start, visit))
            )
            await asyncio.sleep(rng.uniform(0, pause_s))
        await asyncio.gather(*waits)
    finally:  # (a cancel can be lost in asyncio.wait_for on 3.11: a flag)
        done = True
        await asyncio.gather(flusher, return_exceptions=True)


async def _acked(tab: Wire, click_id: str, start: float, visit) -> None:
    await tab.until(lambda page: click_id in page.data["rater.desk"]["acked"])
    visit.timed("rate", time.perf_counter() - start)
