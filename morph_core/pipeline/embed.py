"""The embed stage: one forward pass per image, ever.

Features are cached per (encoder fingerprint, image content hash): when the
images change, only new or changed ones go through the CNN; the rest are copied
from the previous features of the same encoder. Images that cannot be decoded
are listed with the reason and left out of the catalogue.

While it runs, every :data:`SHARD` images embedded are saved as a shard in the
encoder's ``partial/`` folder, so a prepare that is killed or crashes resumes
where it stopped: the next one takes those features as cached. The shards go
once the features are written whole.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from morph_core.data.images import content_hash
from morph_core.dataset import PreparedDataset, digest
from morph_core.model.spec import EncoderSpec
from morph_core.pipeline.catalog import check_not_empty
from morph_core.pipeline.stage import Stage
from morph_core.progress import ProgressFn

SHARD = 2048  # images embedded between saves: a killed prepare redoes at most these


def resumable(dataset: PreparedDataset) -> bool:
    """Whether an embed stage stopped half way left shards to resume from."""
    partial = f"{dataset.encoder_folder('*')}/partial/[0-9]*.parquet"
    return any(dataset.path.glob(partial))


def hash_images(files: list[str], progress: ProgressFn | None = None) -> list[str]:
    """Content hash of each image file, in order."""
    out = []
    for i, path in enumerate(files):
        out.append(content_hash(path))
        if progress and ((i + 1) % 500 == 0 or i + 1 == len(files)):
            progress(i + 1, len(files))
    return out


@dataclass
class Embedded:
    """Features of the images that decoded, their rows, and those that did not."""

    features: np.ndarray
    embedded: pd.DataFrame  # galaxy_id, image_hash of each features row
    failed: pd.DataFrame  # galaxy_id, file, reason


class EmbedStage(Stage[Embedded]):
    """Pooled CNN features of the checked catalogue's images.

    Parameters
    ----------
    catalog : DataFrame
        The checked rows (``galaxy_id``, ``file``).
    hashes : list of str
        :func:`hash_images` of ``catalog["file"]``.
    spec : EncoderSpec
        The encoder; its fingerprint names the features folder.
    """

    def __init__(
        self,
        dataset: PreparedDataset,
        catalog: pd.DataFrame,
        hashes: list[str],
        spec: EncoderSpec,
        batch_size: int = 32,
        num_workers: int = 0,
    ):
        super().__init__(dataset)
        self.catalog, self.hashes, self.spec = catalog, hashes, spec
        self.encoder = spec.fingerprint()
        self.output = dataset.features_file(self.encoder)
        self.batch_size, self.num_workers = batch_size, num_workers
        self.n_embedded = 0

    def inputs(self) -> dict:
        return {"encoder": self.encoder, "images": digest(self.hashes)}

    def compute(self, progress: ProgressFn | None) -> Embedded:
        files = self.catalog["file"].astype(str).tolist()
        cached = self._cached()
        todo = [i for i, h in enumerate(self.hashes) if h not in cached]
        new, errors = np.zeros((0, 0), np.float32), {}
        if todo:
            new, errors = self._embed(files, todo, progress)
        elif progress:
            progress(len(files), len(files))
        self.n_embedded = len(todo) - len(errors)
        position = {i: j for j, i in enumerate(todo)}
        ok = [i for i in range(len(files)) if i not in errors]
        failed = self.catalog.loc[sorted(errors), ["galaxy_id", "file"]].assign(
            reason=[errors[i] for i in sorted(errors)]
        )
        check_not_empty(self.catalog.iloc[ok], failed)
        width = new.shape[1] if new.size else len(next(iter(cached.values())))
        features = np.empty((len(ok), width), np.float32)
        for row, i in enumerate(ok):
            features[row] = (
                new[position[i]] if i in position else cached[self.hashes[i]]
            )
        embedded = pd.DataFrame(
            {
                "galaxy_id": self.catalog["galaxy_id"].iloc[ok].astype(str).tolist(),
                "image_hash": [self.hashes[i] for i in ok],
            }
        )
        return Embedded(features, embedded, failed.reset_index(drop=True))

    def _embed(
        self, files: list[str], todo: list[int], progress: ProgressFn | None
    ) -> tuple[np.ndarray, dict[int, str]]:
        """Features of the ``todo`` rows (zeros where unreadable) and the reasons
        of those that failed, a shard saved after every :data:`SHARD` images."""
        from morph_core.model.encoder import build_encoder, embed_files  # torch

        model = build_encoder(self.spec)
        parts, errors = [], {}
        for start in range(0, len(todo), SHARD):
            rows = todo[start : start + SHARD]

            def step(done: int, _: int, start: int = start) -> None:
                if progress:
                    progress(start + done, len(todo))

            features, found = embed_files(
                [files[i] for i in rows],
                model,
                self.spec,
                self.batch_size,
                self.num_workers,
                step,
            )
            errors.update({rows[j]: reason for j, reason in found.items()})
            ok = [j for j in range(len(rows)) if j not in found]
            self._save_shard(features[ok], [self.hashes[rows[j]] for j in ok])
            parts.append(features)
        return np.concatenate(parts), errors

    def _partial(self) -> str:
        return f"{self.dataset.encoder_folder(self.encoder)}/partial"

    def _save_shard(self, features: np.ndarray, hashes: list[str]) -> None:
        """The features first, then their hashes: a shard counts once both are
        there (each written whole, so a kill leaves none half written)."""
        if not hashes:
            return
        name = f"{self._partial()}/{time.time_ns()}"
        self.workspace.write_array(f"{name}.npy", features)
        self.workspace.write_table(
            f"{name}.parquet", pd.DataFrame({"image_hash": hashes})
        )

    def _cached(self) -> dict[str, np.ndarray]:
        """Features of this encoder by image hash: from the previous prepare and
        from the shards of one that stopped half way."""
        table_file = self.dataset.embedded_file(self.encoder)
        shards = self.workspace.file(self._partial()).glob("[0-9]*.parquet")
        pairs = [(table_file, self.output)] + [
            (f"{self._partial()}/{t.name}", f"{self._partial()}/{t.stem}.npy")
            for t in sorted(shards)  # (a shard's name is a time: never a .tmp- file)
        ]
        cached = {}
        for table, array in pairs:
            if not (self.workspace.exists(table) and self.workspace.exists(array)):
                continue
            hashes = self.workspace.read_table(table)["image_hash"]
            old = self.workspace.read_array(array)
            if len(old) == len(hashes):
                cached.update((h, old[i]) for i, h in enumerate(hashes))
        return cached

    def write(self, value: Embedded, record: dict) -> None:
        self.workspace.write_table(self.dataset.failed_file(self.encoder), value.failed)
        self.workspace.write_table(
            self.dataset.embedded_file(self.encoder), value.embedded
        )
        self.workspace.write_array(self.output, value.features, record)
        shutil.rmtree(self.workspace.file(self._partial()), ignore_errors=True)

    def read(self) -> Embedded:
        return Embedded(
            self.workspace.read_array(self.output),
            self.workspace.read_table(self.dataset.embedded_file(self.encoder)),
            self.workspace.read_table(self.dataset.failed_file(self.encoder)),
        )
