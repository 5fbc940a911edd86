"""Cutouts of a representation-only dataset, fetched when shown.

Such a dataset names each galaxy's image by a template over its catalogue row:
a cutout service's URL (``https://...?ra={ra:.5f}&dec={dec:.5f}&size=160``) or a
path in the table's folder (``images/{galaxy_id}.jpg``). A URL is fetched only
when a page shows the galaxy: in parallel, with a timeout, into a bounded
on-disk cache (least recently used files go first); one that fails is not asked
again for a minute, and the page shows a placeholder instead of waiting.
"""

from __future__ import annotations

import http.client
import os
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from hashlib import blake2b
from pathlib import Path
from string import Formatter

import pandas as pd

from morph_core import settings
from morph_core.data.images import decode_image
from morph_core.errors import CatalogError, ImageError

TIMEOUT_S = 5.0  # one request
WAIT_S = 3.0  # what a page waits for the cutouts it shows, all together
RETRY_AFTER_S = 60.0  # a cutout that failed is not asked for again before this
MAX_CUTOUT_BYTES = 5 * 2**20
WORKERS = 8
MAX_FAILED = 10_000  # failures remembered before the timed-out ones are dropped


def is_url(text: str) -> bool:
    """Whether ``text`` is an http(s) URL (else a file path)."""
    return str(text).startswith(("http://", "https://"))


def template_fields(template: str) -> list[str]:
    """The catalogue columns a template names, e.g. ``["ra", "dec"]``."""
    try:
        parsed = list(Formatter().parse(template))
    except ValueError as e:
        raise CatalogError(f"cutout template {template!r}: {e}") from e
    fields = [name for _, name, _, _ in parsed if name is not None]
    bad = [f for f in fields if not f.isidentifier()]
    if bad:
        raise CatalogError(
            f"cutout template {template!r}: fields must be column names such as "
            f"{{ra}}, {{dec}} or {{galaxy_id}}, not {{{bad[0]}}}"
        )
    return list(dict.fromkeys(fields))


def check_template(template: str, columns: Sequence[str]) -> None:
    """Raise a :class:`CatalogError` unless ``template`` is an http(s) URL or a
    relative path whose fields are all among ``columns``."""
    fields = template_fields(template)
    if "://" in template and not is_url(template):
        raise CatalogError(f"cutout URLs start with http:// or https://: {template!r}")
    if not is_url(template) and (
        Path(template).is_absolute() or ".." in Path(template).parts
    ):
        raise CatalogError(
            f"cutout path {template!r} must be relative to the table's folder "
            "(no absolute path, no '..')"
        )
    missing = [f for f in fields if f not in columns]
    if missing:
        raise CatalogError(
            f"cutout template {template!r} names {', '.join(missing)}, which the "
            "table does not have"
        )


def locations(
    table: pd.DataFrame, template: str, folder: Path
) -> tuple[pd.Series, pd.Series]:
    """Each row's cutout: its URL (field values quoted) or its absolute path in
    ``folder``; and why a row has none (``""`` where it has): a path field
    holding a separator or ``..`` would leave the folder, a missing value."""
    check_template(template, table.columns)
    fields = template_fields(template)
    url = is_url(template)
    reasons = pd.Series("", index=table.index, dtype=object)
    values = {}
    for name in fields:
        column = table[name]
        missing = column.isna()
        reasons[missing & (reasons == "")] = f"no {name} for the cutout"
        if pd.api.types.is_numeric_dtype(column):
            values[name] = column.to_numpy()
            continue
        text = column.fillna("").astype(str)
        if url:
            text = text.map(lambda v: urllib.parse.quote(v, safe=""))
        else:
            leaves = text.str.contains(r"[/\\]|^\.\.?$", regex=True)
            reasons[leaves & (reasons == "")] = "cutout path would leave the folder"
        values[name] = text.to_numpy()
    base = "" if url else str(Path(folder).resolve()) + os.sep
    bad = reasons.to_numpy() != ""
    out = [
        "" if bad[i] else base + template.format_map({f: values[f][i] for f in fields})
        for i in range(len(table))
    ]
    return pd.Series(out, index=table.index, dtype=object), reasons


class CutoutCache:
    """Cutouts fetched from URLs into ``folder``, at most ``max_bytes`` of them.

    Parameters
    ----------
    folder : Path
        One file per URL (named by its hash); shared by every dataset.
    max_bytes : int
        Above this the least recently shown files are removed.
    timeout_s : float
        Per request; a slow server counts as failing.
    """

    def __init__(
        self,
        folder: Path,
        max_bytes: int = 1 << 30,
        timeout_s: float = TIMEOUT_S,
        workers: int = WORKERS,
    ):
        self.folder = Path(folder)
        self.max_bytes, self.timeout_s = max_bytes, timeout_s
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="cutouts")
        self._lock = threading.Lock()
        self._pending: dict[str, Future] = {}
        self._failed: dict[str, float] = {}
        self._written = 0

    def path(self, url: str) -> Path:
        """Where ``url``'s cutout is kept."""
        return self.folder / f"{blake2b(url.encode(), digest_size=16).hexdigest()}.img"

    def local(self, files: Sequence[str], wait_s: float = WAIT_S) -> list[str | None]:
        """A readable file for each of ``files``: paths as they are, URLs from the
        cache or fetched now (all in parallel, waiting ``wait_s`` at most: those
        not there by then keep downloading for the next look), ``None`` for a
        cutout that failed or is not there yet."""
        out: list[str | None] = [None] * len(files)
        waiting: dict[int, Future] = {}
        for i, file in enumerate(files):
            if not is_url(file):
                out[i] = file or None
                continue
            path = self.path(file)
            if path.is_file():
                _touch(path)
                out[i] = str(path)
            elif (future := self._start(file)) is not None:
                waiting[i] = future
        if waiting:
            wait_for(waiting.values(), timeout=wait_s)
            for i, future in waiting.items():
                if future.done() and future.result() is not None:
                    out[i] = str(future.result())
        return out

    def _start(self, url: str) -> Future | None:
        """The download of ``url`` (one per URL at a time); ``None`` while it is
        in its time-out after failing."""
        with self._lock:
            now = time.monotonic()
            if now - self._failed.get(url, -RETRY_AFTER_S) < RETRY_AFTER_S:
                return None
            if len(self._failed) > MAX_FAILED:  # forget the failures timed out
                self._failed = {
                    u: t for u, t in self._failed.items() if now - t < RETRY_AFTER_S
                }
            if url not in self._pending:
                self._pending[url] = self._pool.submit(self._download, url)
            return self._pending[url]

    def _download(self, url: str) -> Path | None:
        try:
            data = _get(url, self.timeout_s)
            decode_image(data, 3, url, max_bytes=MAX_CUTOUT_BYTES)  # an image?
        except (OSError, http.client.HTTPException, ImageError, ValueError):
            with self._lock:
                self._failed[url] = time.monotonic()
                self._pending.pop(url, None)
            return None
        path = self.path(url)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{threading.get_ident()}")
        partial.write_bytes(data)
        partial.replace(path)
        with self._lock:
            self._pending.pop(url, None)
            self._failed.pop(url, None)
            self._written += len(data)
            trim = self._written > self.max_bytes // 20
            if trim:
                self._written = 0
        if trim:
            self.trim()
        return path

    def trim(self) -> None:
        """Remove the least recently used cutouts until the rest fit."""
        files = []
        for path in self.folder.glob("*.img"):
            try:
                stat = path.stat()
            except OSError:
                continue
            files.append((stat.st_mtime, stat.st_size, path))
        total = sum(size for _, size, _ in files)
        for _, size, path in sorted(files):
            if total <= self.max_bytes:
                break
            path.unlink(missing_ok=True)
            total -= size


def _get(url: str, timeout_s: float) -> bytes:
    """The body of ``url`` (at most :data:`MAX_CUTOUT_BYTES`); OSError otherwise."""
    request = urllib.request.Request(url, headers={"User-Agent": "morph_core"})
    with urllib.request.urlopen(request, timeout=timeout_s) as response:
        data = response.read(MAX_CUTOUT_BYTES + 1)
    if len(data) > MAX_CUTOUT_BYTES:
        raise OSError(f"cutout larger than {MAX_CUTOUT_BYTES} bytes: {url}")
    return data


def _touch(path: Path) -> None:
    """Mark a cutout as just used (what the cache keeps longest)."""
    try:
        os.utime(path)
    except OSError:
        pass


_shared: CutoutCache | None = None
_shared_lock = threading.Lock()


def shared() -> CutoutCache:
    """The process's cutout cache (:func:`settings.cutout_cache_dir`, at most
    :func:`settings.cutout_cache_bytes`)."""
    global _shared
    with _shared_lock:
        folder = settings.cutout_cache_dir()
        if _shared is None or _shared.folder != folder:
            _shared = CutoutCache(folder, settings.cutout_cache_bytes())
        return _shared


def local_files(files: Sequence[str], wait_s: float = WAIT_S) -> list[str | None]:
    """:meth:`CutoutCache.local` of the shared cache."""
    if not any(is_url(f) for f in files):
        return [f or None for f in files]
    return shared().local(files, wait_s)
