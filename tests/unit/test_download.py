"""Downloads against a local HTTP server on 127.0.0.1: resume, checksum, quarantine."""

import hashlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import h5py
import numpy as np
import pytest

from morph_core.data import download
from morph_core.data.download import fetch
from morph_core.data.manifest import DatasetEntry, load_manifest
from morph_core.dataset import open_dataset
from morph_core.errors import MorphCoreError
from morph_core.model.weights import resolve_encoder
from morph_core.pipeline.prepare import prepare


class _Server:
    """Serves ``payload`` with Range support; the first ``cut`` answers stop halfway."""

    def __init__(self, payload: bytes, cut: int = 0):
        self.payload, self.cut, self.ranges = payload, cut, []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                start = 0
                if rng := self.headers.get("Range"):
                    start = int(rng.split("=")[1].split("-")[0])
                server.ranges.append(start)
                body = server.payload[start:]
                self.send_response(206 if start else 200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if server.cut > 0:
                    server.cut -= 1
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.connection.close()
                    return
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/file.bin"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()


@pytest.fixture
def payload():
    return np.random.default_rng(0).bytes(300_000)


def test_interrupted_download_resumes(tmp_path, payload):
    server = _Server(payload, cut=1)
    target = tmp_path / "file.bin"
    digest = hashlib.sha256(payload).hexdigest()
    try:
        with pytest.raises(MorphCoreError, match="resumes when run again"):
            fetch(server.url, target, digest)
        assert not target.exists() and (tmp_path / "file.bin.part").exists()
        progress = []
        fetch(server.url, target, digest, progress=lambda d, n: progress.append((d, n)))
    finally:
        server.close()
    assert target.read_bytes() == payload
    assert (
        server.ranges[0] == 0 and server.ranges[1] > 0
    )  # the second asked for the rest
    assert progress[-1] == (len(payload), len(payload))


def test_checksum_mismatch_is_quarantined(tmp_path, payload):
    server = _Server(payload)
    target = tmp_path / "file.bin"
    try:
        with pytest.raises(MorphCoreError, match="checksum mismatch .*not used"):
            fetch(server.url, target, "0" * 64)
    finally:
        server.close()
    assert not target.exists() and (tmp_path / "file.bin.quarantine").exists()


def test_offline_says_where_to_put_the_file(tmp_path):
    target = tmp_path / "file.bin"
    with pytest.raises(MorphCoreError, match=f"Offline: place the file at {target}"):
        fetch("http://127.0.0.1:9/file.bin", target, timeout_s=2)


def test_hdf5_dataset_downloads_then_prepares(env, tmp_path, monkeypatch):
    made = tmp_path / "made.h5"
    with h5py.File(made, "w") as h5:
        h5["images"] = np.random.default_rng(0).integers(
            0, 255, (5, 48, 48, 3), np.uint8
        )
    payload = made.read_bytes()
    server = _Server(payload)
    entry = DatasetEntry(
        name="remote",
        kind="dataset",
        source="hdf5",
        path=str(tmp_path / "dl.h5"),
        url=server.url,
        sha256=hashlib.sha256(payload).hexdigest(),
        licence="test",
        citation="test",
    )
    try:
        summary = prepare(
            entry, open_dataset("remote", env), resolve_encoder(None, load_manifest())
        )
    finally:
        server.close()
    assert summary.n_galaxies == 5 and (tmp_path / "dl.h5").read_bytes() == payload
    hashed = []
    monkeypatch.setattr(
        download, "sha256_of", lambda p: hashed.append(p) or entry.sha256
    )
    again = prepare(
        entry, open_dataset("remote", env), resolve_encoder(None, load_manifest())
    )
    assert again.n_embedded == 0 and len(hashed) == 1  # a 2.7 GB file: hashed once
