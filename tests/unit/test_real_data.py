"""Prepare on the real sets in ../shared/data (MORPH_SHARED_DATA), read in place."""

import numpy as np
import pytest

from morph_core import settings
from morph_core.datasets import encoder_spec
from morph_core.manifest import load_manifest
from morph_core.prepare import prepare
from morph_core.workspace import open_workspace

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
    ws = open_workspace(dataset, env)
    summary = prepare(
        manifest.dataset(dataset),
        ws,
        encoder_spec(None, manifest),
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
