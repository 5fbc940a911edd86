import hashlib
import re

import numpy as np
import pytest

from morph_core.data.sky import separation_arcsec
from morph_core.data.synthetic import (
    MORPHOLOGIES,
    SurveySpec,
    make_catalog,
    make_survey,
)
from morph_core.data.synthetic.render import render_galaxy
from morph_core.data.synthetic.truth import draw_truth
from morph_core.data.synthetic.volunteers import QUESTIONS


def _hashes(table):
    return [hashlib.sha256(open(f, "rb").read()).hexdigest() for f in table["file"]]


def test_same_seed_same_catalog_and_pixels_whatever_the_workers(tmp_path):
    a = make_survey(SurveySpec(30, 48, seed=3), tmp_path / "a", workers=1)
    b = make_survey(SurveySpec(30, 48, seed=3), tmp_path / "b", workers=2)
    c = make_survey(SurveySpec(30, 48, seed=4), tmp_path / "c", workers=1)
    cols = [col for col in a.columns if col != "file"]
    assert a[cols].equals(b[cols])
    assert _hashes(a) == _hashes(b)
    assert _hashes(a) != _hashes(c)


@pytest.fixture(scope="module")
def catalog():
    return make_catalog(SurveySpec(12000, 128, seed=42))


def test_names_positions_and_duplicates(catalog):
    assert catalog["galaxy_id"].is_unique
    assert all(
        re.fullmatch(r"J\d{6}\.\d{2}[+-]\d{6}\.\d", n) for n in catalog["galaxy_id"]
    )
    assert catalog["ra"].between(150, 210).all()
    assert catalog["dec"].between(-5, 15).all()
    dup = catalog[catalog["duplicate_of"] != ""]
    assert 5 <= len(dup) <= 60
    original = catalog.set_index("galaxy_id").loc[dup["duplicate_of"]]
    sep = separation_arcsec(
        dup["ra"].to_numpy(),
        dup["dec"].to_numpy(),
        original["ra"].to_numpy(),
        original["dec"].to_numpy(),
    )
    assert ((sep > 1.5) & (sep < 6.5)).all()
    assert (dup["morphology"].to_numpy() == original["morphology"].to_numpy()).all()


def test_label_rates(catalog):
    shares = catalog["morphology"].value_counts(normalize=True)
    for name, share in MORPHOLOGIES.items():
        assert abs(shares[name] - share) < 0.015, name
    odd = catalog["odd_yes_fraction"] > 0.9
    assert 0.01 <= odd.mean() <= 0.02
    anomalies = (
        catalog["ring"]
        | catalog["lens"]
        | catalog["dust_lane"]
        | catalog["overlapping"]
        | catalog["merging"].isin(["merger", "major-disturbance"])
        | (catalog["morphology"] == "irregular")
    )
    assert anomalies[odd].mean() > 0.95  # "odd" means something is there
    smooth = catalog["smooth-or-featured_smooth_fraction"]
    assert smooth[catalog["morphology"] == "elliptical"].mean() > 0.7
    assert smooth[catalog["morphology"] == "spiral"].mean() < 0.3
    for question, answers in QUESTIONS.items():
        fractions = catalog[[f"{question}_{a}_fraction" for a in answers]]
        answered = fractions.notna().all(axis=1)
        assert np.allclose(fractions[answered].sum(axis=1), 1, atol=1e-3), question
    tagged = catalog["tags"] != ""
    assert 0.03 < tagged.mean() < 0.25
    rings = catalog["tags"].str.contains("#ring")
    assert catalog.loc[rings, "ring"].mean() > 0.8  # mostly right, a few wrong


def test_noisier_galaxies_split_the_vote(catalog):
    ellipticals = catalog[catalog["morphology"] == "elliptical"]
    faint = ellipticals["snr"] < ellipticals["snr"].quantile(0.2)
    smooth = ellipticals["smooth-or-featured_smooth_fraction"]
    assert smooth[faint].mean() < smooth[~faint].mean() - 0.05


def test_every_class_renders_a_galaxy():
    truth = draw_truth(SurveySpec(400, 64, seed=0), np.random.default_rng(0))
    for name in MORPHOLOGIES:
        rows = truth[(truth["morphology"] == name) & ~truth["star"]]
        row = rows.loc[rows["flux"].idxmax()]
        image = render_galaxy(row.to_dict(), 64)
        assert image.shape == (64, 64, 3) and image.dtype == np.uint8
        centre, corner = image[26:38, 26:38].mean(), image[:8, :8].mean()
        if name == "artifact":  # a faint smudge beside a trail, bleed or bad column
            assert image.max() > 150 and centre < 60
        else:
            assert centre > corner + 10, name


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_galaxies": -1}, "n_galaxies"),
        ({"image_size": 16}, "image_size"),
        ({"image_size": 1000}, "image_size"),
        ({"morphologies": {"blob": 1.0}}, "unknown morphology 'blob'"),
        ({"morphologies": {"spiral": -1.0}}, "must be >= 0"),
        ({"duplicate_rate": 0.7}, "duplicate_rate"),
        ({"variety": 1.5}, "variety"),
    ],
)
def test_invalid_settings_fail_before_work(kwargs, message, tmp_path):
    with pytest.raises(ValueError, match=message):
        make_survey(SurveySpec(**kwargs), tmp_path / "never")
    assert not (tmp_path / "never").exists()


def test_a_chosen_mix_of_classes():
    spec = SurveySpec(500, 64, seed=1, morphologies={"spiral": 1, "merger": 1})
    shares = make_catalog(spec)["morphology"].value_counts(normalize=True)
    assert set(shares.index) == {"spiral", "merger"}
    assert abs(shares["merger"] - 0.5) < 0.08


STYLE = ["arm_sharpness", "arm_contrast", "flocculence", "ring_partial"]


def test_variety_widens_the_look_and_keeps_the_galaxies():
    plain = make_catalog(SurveySpec(3000, 128, seed=5))
    varied = make_catalog(SurveySpec(3000, 128, seed=5, variety=1.0))
    assert not set(STYLE + ["stretch_sigmas"]) & set(plain.columns)  # the demo look
    same = ["galaxy_id", "morphology", "bar", "arms", "ring", "merging", "image_seed"]
    assert plain[same].equals(varied[same])  # the same galaxies, only their look varies
    assert varied["radius_px"].std() > 1.3 * plain["radius_px"].std()
    assert varied["flux"].median() > 3 * plain["flux"].median()
    assert varied["psf_fwhm_px"].max() > plain["psf_fwhm_px"].max() + 0.5
    ringed = varied["ring"].to_numpy()
    assert (varied.loc[ringed, "ring_partial"] > 0).all()
    assert (varied.loc[~ringed, "ring_partial"] == 0).all()
    spiral = varied["morphology"].isin(["spiral", "merger"])
    assert (varied.loc[~spiral, "flocculence"] == 0).all()
    assert set(varied["arm_sharpness"]) == {1.0, 2.0, 4.0}


def test_style_columns_change_what_is_drawn():
    truth = make_catalog(SurveySpec(400, 128, seed=2, variety=1.0))
    row = truth[(truth["morphology"] == "spiral") & truth["ring"]].iloc[0].to_dict()
    base = row | {"flocculence": 0.0, "ring_partial": 0.0, "stretch_sigmas": 1.5}
    image = render_galaxy(base, 96).astype(float)
    for change in ({"flocculence": 1.0}, {"ring_partial": 1.0}, {"arm_sharpness": 1}):
        assert np.abs(render_galaxy(base | change, 96) - image).mean() > 0.5, change
    # a softer display stretch hides the sky noise, as survey cutouts do
    soft = render_galaxy(base | {"stretch_sigmas": 9.0}, 96).astype(float)
    assert soft[:12, :12].std() < 0.5 * image[:12, :12].std()
