"""FITS, HDF5 and label-table sources, made in the tests from the real images."""

import h5py
import numpy as np
import pandas as pd
import pytest
from astropy.io import fits
from PIL import Image

from morph_core import settings
from morph_core.data.manifest import LabelsSpec, load_manifest
from morph_core.data.sources.fits import fits_to_image
from morph_core.data.sources.labels import join_labels
from morph_core.dataset import folder_entry, hdf5_entry, open_dataset
from morph_core.errors import CatalogError, ImageError
from morph_core.model.weights import resolve_encoder
from morph_core.pipeline.prepare import prepare


def _real_images(n: int) -> list[np.ndarray]:
    """RGB cutouts from ../shared/data/decals_rings, or synthetic ones if absent."""
    folder = settings.shared_data_dir() / "decals_rings" / "images"
    files = sorted(folder.glob("*.jpg"))[:n]
    if len(files) == n:
        return [
            np.asarray(Image.open(f).convert("RGB").resize((64, 64))) for f in files
        ]
    rng = np.random.default_rng(0)
    return [rng.integers(0, 255, (64, 64, 3), dtype=np.uint8) for _ in range(n)]


@pytest.fixture
def fits_folder(tmp_path):
    """3-band and 1-band cutouts, one with NaNs, one with no image, one all-NaN."""
    folder = tmp_path / "fits"
    folder.mkdir()
    images = _real_images(4)
    rows = []
    for i, rgb in enumerate(images):
        cube = rgb[..., ::-1].transpose(2, 0, 1).astype(np.float32)  # g, r, z planes
        if i == 1:
            cube[:, 10:20, 10:20] = np.nan
        fits.PrimaryHDU(cube).writeto(folder / f"g{i}.fits")
        rows.append((f"g{i}", f"g{i}.fits"))
    fits.PrimaryHDU(images[0].mean(-1).astype(np.float32)).writeto(folder / "grey.fits")
    table = fits.BinTableHDU.from_columns(
        [fits.Column(name="x", format="E", array=[1.0])]
    )
    fits.HDUList([fits.PrimaryHDU(), table]).writeto(folder / "table.fits")
    fits.PrimaryHDU(np.full((32, 32), np.nan, np.float32)).writeto(folder / "nan.fits")
    rows += [("grey", "grey.fits"), ("no_image", "table.fits"), ("all_nan", "nan.fits")]
    pd.DataFrame(rows, columns=["galaxy_id", "file"]).to_csv(folder / "catalog.csv")
    return folder


def test_fits_renders_colour_grey_and_handles_nans(fits_folder):
    rgb = fits_to_image(fits_folder / "g0.fits")
    assert rgb.shape == (64, 64, 3) and rgb.dtype == np.uint8 and rgb.std() > 10
    assert fits_to_image(fits_folder / "g0.fits", "lupton").shape == (64, 64, 3)
    assert fits_to_image(fits_folder / "grey.fits").shape == (64, 64)
    with_nans = fits_to_image(fits_folder / "g1.fits")
    assert with_nans.shape == (64, 64, 3)
    with pytest.raises(ImageError, match="no image HDU"):
        fits_to_image(fits_folder / "table.fits")
    with pytest.raises(ImageError, match="no finite pixels"):
        fits_to_image(fits_folder / "nan.fits")


def test_fits_folder_prepares_and_skips_bad_files(env, fits_folder):
    manifest = load_manifest()
    ws = open_dataset("fits", env)
    summary = prepare(
        folder_entry("fits", fits_folder, stretch="lupton"),
        ws,
        resolve_encoder(None, manifest),
    )
    assert sorted(ws.catalog()["galaxy_id"]) == ["g0", "g1", "g2", "g3", "grey"]
    reasons = dict(
        zip(summary.skipped["galaxy_id"], summary.skipped["reason"], strict=True)
    )
    assert "no image HDU" in reasons["no_image"]
    assert "no finite pixels" in reasons["all_nan"]
    assert all(f.endswith(".png") for f in ws.catalog()["file"])
    again = prepare(
        folder_entry("fits", fits_folder, stretch="lupton"),
        ws,
        resolve_encoder(None, manifest),
    )
    assert again.n_embedded == 0


@pytest.fixture
def h5_file(tmp_path):
    path = tmp_path / "galaxy10.h5"
    images = np.stack(_real_images(6))
    with h5py.File(path, "w") as h5:
        h5["images"] = images
        h5["ans"] = np.arange(6) % 3
        h5["ra"] = np.linspace(150, 151, 6)
        h5["dec"] = np.linspace(2, 3, 6)
    return path


def test_hdf5_stack_prepares_once(env, h5_file):
    manifest = load_manifest()
    ws = open_dataset("g10", env)
    summary = prepare(hdf5_entry("g10", h5_file), ws, resolve_encoder(None, manifest))
    catalog = ws.catalog()
    assert summary.n_galaxies == 6 and catalog["label"].tolist() == [0, 1, 2, 0, 1, 2]
    assert catalog["galaxy_id"][0].startswith("J10")
    first = (ws.image_folder() / "0000000.png").stat().st_mtime_ns
    again = prepare(hdf5_entry("g10", h5_file), ws, resolve_encoder(None, manifest))
    assert again.n_embedded == 0
    assert (ws.image_folder() / "0000000.png").stat().st_mtime_ns == first


def test_hdf5_without_images_or_not_hdf5(env, tmp_path):
    manifest, spec = load_manifest(), resolve_encoder(None, load_manifest())
    bad = tmp_path / "bad.h5"
    with h5py.File(bad, "w") as h5:
        h5["pictures"] = np.zeros((2, 8, 8))
    with pytest.raises(CatalogError, match="no 'images' dataset .*pictures"):
        prepare(hdf5_entry("bad", bad), open_dataset("bad", env), spec)
    text = tmp_path / "text.h5"
    text.write_text("hello")
    with pytest.raises(CatalogError, match="not a readable HDF5 file"):
        prepare(hdf5_entry("text", text), open_dataset("text", env), spec)
    assert manifest


def _sky_catalog():
    return pd.DataFrame(
        {
            "galaxy_id": ["a", "b", "c"],
            "ra": [150.0, 150.1, 150.2],
            "dec": [2.0, 2.1, 2.2],
            "file": ["x"] * 3,
        }
    )


def test_join_by_id_and_by_position():
    labels = pd.DataFrame({"objid": ["b", "c", "z"], "ring_fraction": [0.9, 0.1, 0.5]})
    joined = join_labels(_sky_catalog(), labels, "galaxy_id", "objid")
    assert joined["ring_fraction"].tolist()[1:] == [0.9, 0.1]
    assert np.isnan(joined["ring_fraction"][0])
    near = pd.DataFrame(
        {
            "ra": [150.0 + 1 / 3600, 150.2],
            "dec": [2.0, 2.2 + 5 / 3600],
            "smooth": [0.7, 0.2],
        }
    )
    by_sky = join_labels(_sky_catalog(), near, "sky", radius_arcsec=2)
    assert by_sky["smooth"][0] == 0.7 and np.isnan(by_sky["smooth"][2])
    assert by_sky["match_sep_arcsec"][0] == pytest.approx(1.0, abs=0.01)
    with pytest.raises(CatalogError, match="matched no galaxy .*within 0.1 arcsec"):
        join_labels(_sky_catalog(), near, "sky", radius_arcsec=0.1)
    with pytest.raises(CatalogError, match="matched no galaxy .*by objid"):
        join_labels(
            _sky_catalog(), labels.assign(objid=["x", "y", "z"]), "galaxy_id", "objid"
        )


def test_prepare_joins_a_label_table(env, image_folder, tmp_path):
    labels = tmp_path / "gz.csv"
    pd.DataFrame({"name": ["g0", "g3"], "merger_fraction": [0.8, 0.1]}).to_csv(labels)
    spec = LabelsSpec(file=str(labels), on="galaxy_id", id_column="name")
    ws = open_dataset("mine", env)
    prepare(
        folder_entry("mine", image_folder, labels=spec),
        ws,
        resolve_encoder(None, load_manifest()),
    )
    catalog = ws.catalog().set_index("galaxy_id")
    assert catalog.loc["g0", "merger_fraction"] == 0.8
    assert catalog["merger_fraction"].notna().sum() == 2
