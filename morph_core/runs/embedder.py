"""Uploads embedded in one long-lived worker process, so that torch and the CNN
(about 0.7 GB) stay out of the web server, which serves every visitor.

The server's :class:`Embedder` starts ``python -m morph_core.runs.embedder`` on
first use and talks to it over its stdin/stdout: a request is a JSON header line
(the encoder spec) and an ``.npy`` image; the answer a JSON line and the
features as ``.npy``. One request at a time (a lock); a worker that died is
started again on the next request.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
from typing import BinaryIO

import numpy as np

from morph_core.errors import MorphCoreError
from morph_core.model.spec import EncoderSpec
from morph_core.settings import PROJECT_ROOT

EMBEDDER_MODULE = "morph_core.runs.embedder"


def _send(stream: BinaryIO, header: dict, array: np.ndarray | None) -> None:
    payload = b""
    if array is not None:
        buffer = io.BytesIO()
        np.save(buffer, array, allow_pickle=False)
        payload = buffer.getvalue()
    stream.write(json.dumps(header | {"bytes": len(payload)}).encode() + b"\n")
    stream.write(payload)
    stream.flush()


def _receive(stream: BinaryIO) -> tuple[dict, np.ndarray | None]:
    line = stream.readline()
    if not line:
        raise EOFError("the embedder closed its pipe")
    header = json.loads(line)
    size = header.get("bytes", 0)
    data = stream.read(size) if size else b""
    if len(data) != size:
        raise EOFError("the embedder's answer was cut short")
    array = np.load(io.BytesIO(data), allow_pickle=False) if size else None
    return header, array


class Embedder:
    """The web server's handle on the embedding worker (thread-safe)."""

    def __init__(self) -> None:
        self._process: subprocess.Popen | None = None
        self._lock = threading.Lock()  # held while the worker embeds
        self._warmed: set[str] = set()  # CNNs loaded (or loading) in the worker
        self._warmed_lock = threading.Lock()  # never waits for an embedding

    def embed(self, image: np.ndarray, spec: EncoderSpec) -> np.ndarray:
        """Features ``(n_features,)`` of one ``uint8`` image with ``spec``'s CNN.

        Raises
        ------
        MorphCoreError
            The worker failed on this image, or could not be started.
        """
        with self._lock:
            for attempt in range(2):  # a worker that died is started once more
                process = self._running()
                try:
                    _send(process.stdin, {"spec": vars(spec)}, image)
                    header, features = _receive(process.stdout)
                    break
                except (OSError, EOFError, ValueError) as e:
                    self.close()
                    if attempt:
                        raise MorphCoreError(
                            "the image could not be embedded (the embedding worker "
                            "stopped); try again"
                        ) from e
        if header.get("error"):
            raise MorphCoreError(header["error"])
        return features

    def warm(self, spec: EncoderSpec) -> threading.Thread | None:
        """Start the worker and load ``spec``'s CNN in a background thread (a few
        seconds), once, so that the upload a visitor is about to make does not
        wait for it; returns that thread (``None`` when already warm, or when
        the spec cannot be used: the upload reports why)."""
        try:
            key = spec.fingerprint()
        except MorphCoreError:
            return None  # e.g. its weights are missing: the upload will say so
        with self._warmed_lock:
            if key in self._warmed:
                return None
            self._warmed.add(key)
        side = spec.image_size
        blank = np.zeros((side, side) if spec.channels == 1 else (side, side, 3))
        thread = threading.Thread(
            target=self._try, args=(blank.astype(np.uint8), spec), daemon=True
        )
        thread.start()
        return thread

    def _try(self, image: np.ndarray, spec: EncoderSpec) -> None:
        try:
            self.embed(image, spec)
        except MorphCoreError:
            with self._warmed_lock:
                self._warmed.discard(spec.fingerprint())  # tried again by the upload

    def _running(self) -> subprocess.Popen:
        if self._process is None or self._process.poll() is not None:
            self._process = subprocess.Popen(
                [sys.executable, "-m", EMBEDDER_MODULE],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                cwd=PROJECT_ROOT,
                env=os.environ | {"OMP_NUM_THREADS": "2"},  # a small server's cores
            )
        return self._process

    def close(self) -> None:
        """Stop the worker (it is started again when needed)."""
        with self._warmed_lock:
            self._warmed.clear()
        if self._process is not None:
            self._process.kill()
            self._process.wait()
            self._process = None


_SHARED: Embedder | None = None
_SHARED_LOCK = threading.Lock()


def shared() -> Embedder:
    """The process's one handle on the embedding worker (the web server's: its
    pages and its start-up warm the same worker)."""
    global _SHARED
    with _SHARED_LOCK:
        if _SHARED is None:
            _SHARED = Embedder()
        return _SHARED


NICENESS = 5  # loading torch and a CNN takes seconds of CPU: the web server first


def serve(stdin: BinaryIO, stdout: BinaryIO) -> None:
    """The worker's loop: answer requests until stdin closes."""
    os.nice(NICENESS)
    from morph_core.model.encoder import build_encoder, embed_image

    encoders = {}
    while True:
        try:
            header, image = _receive(stdin)
        except EOFError:
            return
        try:
            spec = EncoderSpec.from_record(header["spec"])
            key = spec.fingerprint()
            if key not in encoders:
                encoders.clear()  # one CNN in memory at a time
                encoders[key] = build_encoder(spec)
            reply = {}, embed_image(image, encoders[key], spec)
        except MorphCoreError as e:
            reply = {"error": str(e)}, None
        except Exception as e:  # noqa: BLE001 - one bad image must not end the worker
            reply = {"error": f"the image could not be embedded ({e})"}, None
        try:
            _send(stdout, *reply)
        except BrokenPipeError:
            return  # the server stopped while this image was embedded


if __name__ == "__main__":
    serve(sys.stdin.buffer, sys.stdout.buffer)
