"""Embedding past one machine: Ray Data reads a survey's images on a cluster's
workers, runs the encoder there and writes parquet shards of features, which
``prepare --features`` then reduces (PCA, UMAP) like any published table.

Each worker loads the encoder once and embeds batches of image files (paths on
a filesystem every node sees, or URLs) with the same code as a single machine
(:func:`morph_core.model.encoder.embed_files`): the features are the same. The
output is one table: the catalogue's columns, ``features`` (a fixed-size list
of float32) and ``embed_error`` (why an image could not be read; its row is
skipped by ``prepare``).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from morph_core.data.catalog import validate_catalog
from morph_core.data.cutouts import is_url, local_files
from morph_core.data.manifest import DatasetEntry
from morph_core.data.sources import folder_table
from morph_core.errors import CatalogError
from morph_core.model.spec import EncoderSpec
from morph_core.settings import PROJECT_ROOT

ERROR_COLUMN = "embed_error"


def source_catalog(source: Path) -> pd.DataFrame:
    """The images to embed: a folder (with its ``catalog.csv``, or every image
    in it) or a CSV of ``galaxy_id`` and ``file`` (paths or URLs) and any other
    columns, kept in the output."""
    source = Path(source)
    if source.is_dir():
        entry = DatasetEntry(
            name="distributed",
            kind="dataset",
            source="image_folder",
            path=str(source.resolve()),
            licence="",
            citation="",
        )
        with tempfile.TemporaryDirectory() as rendered:  # FITS would go there
            table, root, _ = folder_table(entry, Path(rendered))
            catalog, _ = validate_catalog(table, Path(root))
        return catalog
    if source.suffix != ".csv" or not source.is_file():
        raise CatalogError(f"a folder of images or a CSV, please: {source}")
    table = pd.read_csv(source, dtype={"galaxy_id": str})
    if not {"galaxy_id", "file"} <= set(table.columns):
        raise CatalogError(f"{source.name} needs the columns galaxy_id and file")
    return table.drop_duplicates("galaxy_id").reset_index(drop=True)


class _Embedder:
    """One Ray worker: the encoder loaded once, then batch after batch."""

    def __init__(self, spec: dict, threads: int):
        from morph_core.model.encoder import build_encoder, use_threads

        use_threads(threads)
        self.spec = EncoderSpec.from_record(spec)
        self.model = build_encoder(self.spec)

    def __call__(self, batch: pa.Table) -> pa.Table:
        from morph_core.model.encoder import embed_files

        files = [str(f) for f in batch.column("file").to_pylist()]
        local = local_files(files, wait_s=60) if any(map(is_url, files)) else files
        readable = [i for i, f in enumerate(local) if f]
        features, errors = embed_files(
            [local[i] for i in readable], self.model, self.spec, len(readable) or 1
        )
        out = np.zeros((len(files), self.model.num_features), np.float32)
        out[readable] = features
        reasons = ["cutout not available"] * len(files)
        for j, i in enumerate(readable):
            reasons[i] = errors.get(j, "")
        flat = pa.array(out.ravel(), pa.float32())
        return batch.append_column(
            "features", pa.FixedSizeListArray.from_arrays(flat, out.shape[1])
        ).append_column(ERROR_COLUMN, pa.array(reasons, pa.string()))


def embed_distributed(
    source: Path,
    out: Path,
    spec: EncoderSpec,
    address: str | None = None,
    workers: int = 2,
    threads_per_worker: int = 1,
    batch_size: int = 64,
) -> int:
    """Embed every image of ``source`` on a Ray cluster into parquet shards in
    ``out``; returns the number of galaxies written.

    Parameters
    ----------
    address : str, optional
        A running cluster (``"auto"``, ``ray://host:10001``); ``None`` starts
        a local one (its cores: ``workers * threads_per_worker``), stopped after.
    workers : int
        Encoder replicas (Ray actors) side by side, each with
        ``threads_per_worker`` CPU threads.

    Raises
    ------
    CatalogError
        A source that is not a folder or a CSV of galaxy_id and file, or an
        output folder that already holds shards.
    """
    import ray  # a cluster's client: only this command needs it

    catalog = source_catalog(source)
    out = Path(out)
    if out.exists() and any(out.glob("*.parquet")):
        raise CatalogError(f"{out} already holds parquet shards: choose a new folder")
    started = not ray.is_initialized()
    if started:
        ray.init(  # a local cluster: the workers' cores and one to read and write
            address=address,
            num_cpus=None if address else workers * threads_per_worker + 1,
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
            runtime_env={"env_vars": {"PYTHONPATH": str(PROJECT_ROOT)}},
        )
    try:
        n_blocks = max(1, min(-(-len(catalog) // batch_size), 10 * workers))
        bounds = np.linspace(0, len(catalog), n_blocks + 1).astype(int)
        blocks = [
            pa.Table.from_pandas(catalog.iloc[a:b], preserve_index=False)
            for a, b in zip(bounds[:-1], bounds[1:], strict=True)
        ]
        embedded = ray.data.from_arrow(blocks).map_batches(
            _Embedder,
            fn_constructor_args=(vars(spec), threads_per_worker),
            batch_size=batch_size,
            batch_format="pyarrow",
            compute=ray.data.ActorPoolStrategy(size=workers),
            num_cpus=threads_per_worker,
        )
        embedded.write_parquet(str(out))
    finally:
        if started:
            ray.shutdown()
    return len(catalog)
