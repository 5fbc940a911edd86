"""The raw catalogue of a dataset: generated sources (the synthetic sky, HDF5
stacks) are rendered into the workspace once, by a stage keyed on the survey's
settings or the file; folders are read as they are."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from morph_core.data.catalog import empty_skipped
from morph_core.data.manifest import DatasetEntry
from morph_core.data.sources import (
    GENERATED_SOURCES,
    folder_table,
    hdf5_file,
    survey_spec,
    with_labels,
)
from morph_core.data.sources.hdf5 import read_hdf5
from morph_core.data.synthetic import make_survey
from morph_core.dataset import GENERATED, PreparedDataset
from morph_core.pipeline.stage import Stage
from morph_core.progress import ProgressFn

SYNTHETIC_VERSION = 3  # bump when the renderer's pixels or columns change


class SourceStage(Stage[pd.DataFrame]):
    """Images and table of a generated source, in the dataset's image folder:
    a synthetic survey, or an HDF5 stack (``hdf5`` is its file, already fetched)."""

    output = GENERATED

    def __init__(
        self, dataset: PreparedDataset, entry: DatasetEntry, hdf5: Path | None = None
    ):
        super().__init__(dataset)
        self.entry, self.hdf5 = entry, hdf5

    def inputs(self) -> dict:
        if self.hdf5 is None:
            spec = survey_spec(self.entry)
            return {"synthetic": vars(spec), "version": SYNTHETIC_VERSION}
        stat = self.hdf5.stat()
        return {
            "hdf5": str(self.hdf5),
            "size": stat.st_size,
            "mtime_ns": stat.st_mtime_ns,
        }

    def compute(self, progress: ProgressFn | None) -> pd.DataFrame:
        folder = self.dataset.image_folder()
        if self.hdf5 is None:
            return make_survey(survey_spec(self.entry), folder, progress)
        return read_hdf5(self.hdf5, folder, progress)

    def write(self, value: pd.DataFrame, record: dict) -> None:
        self.workspace.write_table(self.output, value, record)

    def read(self) -> pd.DataFrame:
        return self.workspace.read_table(self.output)


def generate(
    dataset: PreparedDataset, entry: DatasetEntry, progress: ProgressFn | None = None
) -> pd.DataFrame:
    """The table of a generated source, rendered only when its settings changed.
    An HDF5 file is fetched (and its checksum verified) once, before its size is
    known."""
    hdf5 = hdf5_file(entry, progress) if entry.source == "hdf5" else None
    return SourceStage(dataset, entry, hdf5).run(progress)


def read_source(
    dataset: PreparedDataset, entry: DatasetEntry, progress: ProgressFn | None = None
) -> tuple[pd.DataFrame, str | None, pd.DataFrame]:
    """The raw catalogue of any source, the folder its relative ``file`` paths
    start from (``None``: absolute), and the rows it had to leave out."""
    if entry.source in GENERATED_SOURCES:
        table, root, skipped = generate(dataset, entry, progress), None, empty_skipped()
    else:
        table, root, skipped = folder_table(entry, dataset.image_folder(), progress)
    return with_labels(table, entry), root, skipped
