import hashlib
import re

import numpy as np
import pytest

from morph_core.sources.synthetic import (
    MORPHOLOGIES,
    SurveySpec,
    make_survey,
    render_galaxy,
)


def _hashes(table):
    return [hashlib.sha256(open(f, "rb").read()).hexdigest() for f in table["file"]]


def test_same_seed_same_catalog_and_pixels(tmp_path):
    a = make_survey(SurveySpec(40, 48, seed=3), tmp_path / "a")
    b = make_survey(SurveySpec(40, 48, seed=3), tmp_path / "b")
    c = make_survey(SurveySpec(40, 48, seed=4), tmp_path / "c")
    cols = [col for col in a.columns if col != "file"]
    assert a[cols].equals(b[cols])
    assert _hashes(a) == _hashes(b)
    assert _hashes(a) != _hashes(c)


def test_catalog_columns_names_and_rates(tmp_path):
    table = make_survey(SurveySpec(400, 32, seed=1), tmp_path)
    assert table["galaxy_id"].is_unique
    assert all(
        re.fullmatch(r"J\d{6}\.\d{2}[+-]\d{6}\.\d", n) for n in table["galaxy_id"]
    )
    assert table["ra"].between(150, 210).all() and table["dec"].between(-5, 15).all()
    shares = table["morphology"].value_counts(normalize=True)
    for name, share in MORPHOLOGIES.items():
        assert abs(shares.get(name, 0) - share) < 0.06, name
    rings = table["morphology"] == "ring"
    assert table.loc[rings, "odd_fraction"].mean() > 0.6
    assert (
        table.loc[~rings & (table.morphology == "elliptical"), "odd_fraction"].mean()
        < 0.3
    )
    assert 0 < (table["tags"] != "").mean() < 0.2


def test_images_are_colour_uint8_with_signal():
    rng = np.random.default_rng(0)
    for name in MORPHOLOGIES:
        image = render_galaxy(name, 64, 30.0, rng)
        assert image.shape == (64, 64, 3) and image.dtype == np.uint8
        centre = image[24:40, 24:40].mean()
        assert centre > image[:8, :8].mean() + 20, name


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"n_galaxies": -1}, "n_galaxies"), ({"image_size": 16}, "image_size")],
)
def test_invalid_settings_fail_before_work(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SurveySpec(**kwargs)
    with pytest.raises(ValueError, match="unknown morphology"):
        render_galaxy("blob", 64, 10.0, np.random.default_rng(0))
