"""Fetching one file named in the manifest: resume, checksum, quarantine.

A download goes to ``<file>.part``, resumes with an HTTP Range request after an
interruption, and becomes ``<file>`` only when its sha256 matches the manifest. A
mismatch moves it to ``<file>.quarantine``: nothing partial or wrong is used.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import urllib.error
import urllib.request
from pathlib import Path

from morph_core.errors import MorphCoreError
from morph_core.progress import ProgressFn

CHUNK = 1 << 20


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fetch(
    url: str,
    target: Path,
    sha256: str | None = None,
    progress: ProgressFn | None = None,
    timeout_s: float = 30,
) -> Path:
    """Make sure ``target`` holds the file at ``url``; download what is missing.

    Raises
    ------
    MorphCoreError
        Offline or the server failed (the message says where to place the file
        by hand), or the checksum does not match (the file is quarantined).
    """
    target = Path(target)
    if target.exists() and (sha256 is None or sha256_of(target) == sha256):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    done = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(
        url, headers={"Range": f"bytes={done}-"} if done else {}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            if done and response.status != 206:  # the server ignored Range: start over
                done = 0
            total = done + int(response.headers.get("Content-Length", 0))
            with open(part, "ab" if done else "wb") as out:
                while chunk := response.read(CHUNK):
                    out.write(chunk)
                    done += len(chunk)
                    if progress:
                        progress(done, max(total, done))
            if done < total:
                raise OSError(f"connection closed after {done} of {total} bytes")
    except (urllib.error.URLError, http.client.HTTPException, OSError) as e:
        raise MorphCoreError(
            f"could not download {url} ({e}); it resumes when run again. "
            f"Offline: place the file at {target}"
        ) from e
    if sha256 is not None and (actual := sha256_of(part)) != sha256:
        quarantine = target.with_name(target.name + ".quarantine")
        os.replace(part, quarantine)
        raise MorphCoreError(
            f"checksum mismatch for {url}: expected {sha256[:12]}…, got "
            f"{actual[:12]}…; the file was moved to {quarantine} and is not used"
        )
    os.replace(part, target)
    return target
