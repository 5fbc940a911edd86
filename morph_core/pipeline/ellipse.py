"""The ellipse stage: Astronomaly-style ellipse fits of every galaxy's image,
the anomaly baseline's representation (computed at prepare, never on a page)."""

from __future__ import annotations

import numpy as np

from morph_core.data.images import load_image
from morph_core.dataset import CATALOG, ELLIPSE, PreparedDataset, digest
from morph_core.errors import ImageError
from morph_core.pipeline.stage import Stage
from morph_core.progress import ProgressFn
from morph_core.tools.anomaly.ellipse import FEATURE_NAMES, ellipse_features

ELLIPSE_VERSION = 2  # bump when the features' definition changes


class EllipseStage(Stage[np.ndarray]):
    """``(n_galaxies, len(FEATURE_NAMES))`` float32 in catalogue order; made
    again only when the images change. Unreadable images give zeros."""

    output = ELLIPSE

    def __init__(self, dataset: PreparedDataset, encoder: str | None = None):
        super().__init__(dataset)
        self.encoder = encoder

    def inputs(self) -> dict:
        hashes = self.dataset.image_hashes(self.encoder)
        return {"images": digest(hashes), "version": ELLIPSE_VERSION}

    def compute(self, progress: ProgressFn | None) -> np.ndarray:
        files = self.workspace.read_table(CATALOG)["file"].astype(str).tolist()
        out = np.zeros((len(files), len(FEATURE_NAMES)), np.float32)
        for i, path in enumerate(files):
            try:
                out[i] = ellipse_features(load_image(path, 1))
            except ImageError:
                pass  # decoded by the embed stage moments ago: only a race lands here
            if progress and ((i + 1) % 200 == 0 or i + 1 == len(files)):
                progress(i + 1, len(files))
        return out

    def write(self, value: np.ndarray, record: dict) -> None:
        self.workspace.write_array(self.output, value, record)

    def read(self) -> np.ndarray:
        return self.workspace.read_array(self.output, mmap=False)
