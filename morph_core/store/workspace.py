"""One folder of derived artefacts, written atomically, each with its input record.

Every array and table may carry a JSON sidecar (``<name>.json``) holding the
record of what it was made from (input fingerprints and parameters): that record,
not a log file, decides whether an artefact is up to date (:meth:`Workspace.is_fresh`).
Files are written to a temporary name and renamed, so a crash never leaves a
half-written artefact behind. Which artefacts a dataset has, and their names, is
:class:`morph_core.dataset.PreparedDataset`'s business, not this module's.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from filelock import FileLock

from morph_core.errors import MorphCoreError


class Workspace:
    """The folder of one dataset's artefacts.

    Parameters
    ----------
    path : Path
        ``<workspace_root>/<dataset>``; created on first write.
    """

    def __init__(self, path: Path):
        self.path = Path(path)

    @property
    def name(self) -> str:
        return self.path.name

    def __repr__(self) -> str:
        return f"Workspace({str(self.path)!r})"

    def lock(self, timeout_s: float = 3600) -> FileLock:
        """An inter-process lock: one prepare at a time per dataset."""
        self.path.mkdir(parents=True, exist_ok=True)
        return FileLock(self.path / ".lock", timeout=timeout_s)

    def file(self, relative: str) -> Path:
        return self.path / relative

    def exists(self, relative: str) -> bool:
        return (self.path / relative).exists()

    @contextmanager
    def _atomic(self, relative: str, suffix: str) -> Iterator[Path]:
        target = self.path / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-", suffix=suffix)
        os.close(fd)
        try:
            yield Path(tmp)
            os.chmod(tmp, 0o644)
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def write_json(self, relative: str, record: dict[str, Any]) -> None:
        with self._atomic(relative, ".json") as tmp:
            tmp.write_text(json.dumps(record, indent=2, sort_keys=True, default=str))

    def read_json(self, relative: str) -> dict[str, Any] | None:
        """The record, or ``None`` when absent or unreadable (treated as stale)."""
        try:
            return json.loads((self.path / relative).read_text())
        except (OSError, json.JSONDecodeError):
            return None

    def write_array(
        self, relative: str, array: np.ndarray, record: dict[str, Any] | None = None
    ) -> None:
        """Save ``.npy`` atomically, then its sidecar ``record``."""
        with self._atomic(relative, ".npy") as tmp:
            np.save(tmp, np.ascontiguousarray(array), allow_pickle=False)
        if record is not None:
            self.write_json(_sidecar(relative), record)

    def read_array(self, relative: str, mmap: bool = True) -> np.ndarray:
        """Load ``.npy`` (memory-mapped read-only by default); never unpickles."""
        path = self.path / relative
        if not path.exists():
            raise MorphCoreError(f"{path} is missing: run prepare for {self.name!r}")
        return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)

    def write_npz(
        self, relative: str, arrays: dict[str, np.ndarray], record: dict
    ) -> None:
        with self._atomic(relative, ".npz") as tmp:
            np.savez(tmp, **arrays)
        self.write_json(_sidecar(relative), record)

    def read_npz(self, relative: str) -> dict[str, np.ndarray]:
        path = self.path / relative
        if not path.exists():
            raise MorphCoreError(f"{path} is missing: run prepare for {self.name!r}")
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}

    def write_table(
        self, relative: str, table: pd.DataFrame, record: dict[str, Any] | None = None
    ) -> None:
        """Save a DataFrame as parquet (or CSV for ``.csv``) atomically."""
        suffix = Path(relative).suffix
        with self._atomic(relative, suffix) as tmp:
            if suffix == ".csv":
                table.to_csv(tmp, index=False)
            else:
                table.to_parquet(tmp, index=False)
        if record is not None:
            self.write_json(_sidecar(relative), record)

    def read_table(self, relative: str) -> pd.DataFrame:
        path = self.path / relative
        if not path.exists():
            raise MorphCoreError(f"{path} is missing: run prepare for {self.name!r}")
        if path.suffix == ".csv":
            return pd.read_csv(path, dtype={"galaxy_id": str})
        return pd.read_parquet(path)

    def is_fresh(self, relative: str, record: dict[str, Any]) -> bool:
        """True when the artefact exists and was made from exactly ``record``."""
        if not (self.path / relative).exists():
            return False
        stored = self.record(relative)
        return stored is not None and stored == _normalised(record)

    def record(self, relative: str) -> dict[str, Any] | None:
        """The input record an artefact was written with (``None``: none, or absent)."""
        return self.read_json(_sidecar(relative))


def _sidecar(relative: str) -> str:
    return str(Path(relative).with_suffix(".json"))


def _normalised(record: dict[str, Any]) -> dict[str, Any]:
    """The record as it reads back from JSON (tuples become lists, paths text)."""
    return json.loads(json.dumps(record, default=str))
