"""Prepare on the real sets in ../shared/data (MORPH_SHARED_DATA), read in place."""

import numpy as np
import pytest

from morph_core import settings
from morph_core.data.manifest import load_manifest
from morph_core.dataset import open_dataset
from morph_core.model.weights import resolve_encoder
from morph_core.pipeline.prepare import prepare

pytestmark = [
    pytest.mark.real_data,
    pytest.mark.skipif(
        not (settings.shared_data_dir() / "gz1_sdss").is_dir(),
        reason="real data not present (set MORPH_SHARED_DATA)",
    ),
]


@pytest.mark.parametrize("dataset", ["gz1_sdss", "decals_rings"])
def test_real_subset_prepares(env, dataset):
    manifest = load_manifest()
    ws = open_dataset(dataset, env)
    summary = prepare(
        manifest.dataset(dataset),
        ws,
        resolve_encoder(None, manifest),
        limit=60,
        num_workers=0,
    )
    assert summary.n_galaxies == 60 and len(summary.skipped) == 0
    catalog = ws.catalog()
    assert all(str(settings.shared_data_dir()) in f for f in catalog["file"])
    assert np.isfinite(np.array(ws.features())).all()
    if dataset == "decals_rings":
        assert (
            catalog["ra"].between(0, 360).all()
            and catalog["dec"].between(-90, 90).all()
        )
        assert catalog["ring"].isin([0, 1]).all()
    else:
        assert catalog["galaxy_id"].str.fullmatch(r"\d+").all()
