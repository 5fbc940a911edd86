"""Uploads are embedded in a worker process: the same features as in-process, a
dead worker is started again, a bad request is an error and the worker lives on,
a worker whose server stopped ends without a traceback."""

import dataclasses
import subprocess
import sys
import time

import numpy as np
import pytest

from morph_core.data.manifest import load_manifest
from morph_core.errors import MorphCoreError
from morph_core.model.encoder import build_encoder, embed_image
from morph_core.model.weights import resolve_encoder
from morph_core.runs.embedder import EMBEDDER_MODULE, Embedder, _send
from morph_core.settings import PROJECT_ROOT


@pytest.fixture
def embedder():
    handle = Embedder()
    yield handle
    handle.close()


def test_the_worker_embeds_like_the_server_would(env, embedder):
    spec = resolve_encoder(None, load_manifest())
    image = np.random.default_rng(0).integers(0, 255, (80, 80), dtype=np.uint8)
    expected = embed_image(image, build_encoder(spec), spec)
    np.testing.assert_allclose(embedder.embed(image, spec), expected, atol=1e-4)
    embedder._process.kill()  # the worker dies (killed, out of memory)
    embedder._process.wait()
    np.testing.assert_allclose(embedder.embed(image, spec), expected, atol=1e-4)


def test_a_bad_request_is_a_message_and_the_worker_lives_on(env, embedder):
    spec = resolve_encoder(None, load_manifest())
    image = np.zeros((64, 64), dtype=np.uint8)
    missing = dataclasses.replace(spec, weights="/nowhere/model.safetensors")
    with pytest.raises(MorphCoreError):
        embedder.embed(image, missing)
    process = embedder._process
    assert embedder.embed(image, spec).shape == (1280,)
    assert embedder._process is process  # the same worker answered


def test_warming_loads_the_cnn_once_before_any_upload(env, embedder):
    spec = resolve_encoder(None, load_manifest())
    warming = embedder.warm(spec)
    assert embedder.warm(spec) is None  # once
    warming.join(timeout=120)
    assert spec.fingerprint() in embedder._warmed  # the blank image was embedded
    image = np.zeros((64, 64), dtype=np.uint8)
    assert embedder.embed(image, spec).shape == (1280,)
    missing = dataclasses.replace(spec, weights="/nowhere/model.safetensors")
    assert embedder.warm(missing) is None  # no error here: the upload reports it
    broken = dataclasses.replace(spec, architecture="no_such_net")
    embedder.warm(broken).join(timeout=120)
    assert broken.fingerprint() not in embedder._warmed  # tried again on upload


def test_warming_never_waits_for_an_embedding_in_progress(env, embedder):
    spec = resolve_encoder(None, load_manifest())
    with embedder._lock:  # another visitor's upload is being embedded
        started = time.perf_counter()
        warming = embedder.warm(spec)  # a page run asks for the CNN meanwhile
        assert embedder.warm(spec) is None
        assert time.perf_counter() - started < 1  # the page was not held up
        assert warming.is_alive()  # the warm-up waits its turn, in its thread
    warming.join(timeout=120)
    assert spec.fingerprint() in embedder._warmed


def test_a_worker_whose_server_stopped_mid_image_ends_quietly(env):
    spec = resolve_encoder(None, load_manifest())
    worker = subprocess.Popen(
        [sys.executable, "-m", EMBEDDER_MODULE],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=PROJECT_ROOT,
    )
    worker.stdout.close()  # the server is gone before the answer is written
    _send(worker.stdin, {"spec": vars(spec)}, np.zeros((64, 64), dtype=np.uint8))
    worker.stdin.close()
    assert worker.wait(timeout=120) == 0
    assert worker.stderr.read() == b""  # no traceback in the server's log


def test_a_public_server_loads_the_demo_cnn_before_any_visitor(
    prepared_env, monkeypatch
):
    from morph_core.app.server import warm_uploads
    from morph_core.dataset import open_dataset
    from morph_core.runs import embedder as module

    monkeypatch.setattr(module, "_SHARED", None)  # this test's own worker
    assert warm_uploads() is None  # local: loaded when the upload route is picked
    monkeypatch.setenv("MORPH_MODE", "public")
    warming = warm_uploads()
    try:
        warming.join(timeout=120)
        spec = open_dataset(load_manifest().default_dataset).encoder_spec()
        assert spec.fingerprint() in module.shared()._warmed  # the CNN was loaded
        assert warm_uploads() is None  # once
    finally:
        module.shared().close()


def test_a_public_server_without_a_prepared_sky_starts_no_worker(env, monkeypatch):
    from morph_core.app.server import warm_uploads
    from morph_core.runs import embedder as module

    monkeypatch.setattr(module, "_SHARED", None)
    monkeypatch.setenv("MORPH_MODE", "public")
    assert warm_uploads() is None
    assert module._SHARED is None
