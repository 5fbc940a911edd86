import numpy as np
import pandas as pd
import pytest

from morph_core.errors import MorphCoreError
from morph_core.tools.similarity import (
    NeighbourIndex,
    row_by_id,
    row_by_position,
    row_by_tag,
    search,
    similar_galaxies,
    tag_counts,
    tags_in,
)


@pytest.fixture
def sky():
    rng = np.random.default_rng(0)
    n = 200
    catalog = pd.DataFrame(
        {
            "galaxy_id": [f"G{i:03d}" for i in range(n)],
            "ra": rng.uniform(150, 151, n),
            "dec": rng.uniform(2, 3, n),
            "tags": [""] * n,
            "file": ["x"] * n,
        }
    )
    catalog.loc[5, "tags"] = "#ring:4 #barred"
    catalog.loc[9, "tags"] = "#ring:2"
    catalog.loc[17, "tags"] = "#Ring"
    catalog.loc[6, ["ra", "dec"]] = [catalog.loc[5, "ra"], catalog.loc[5, "dec"] + 0.01]
    features = rng.normal(size=(n, 10)).astype(np.float32)
    features[6] = features[5] + 0.01  # a duplicate detection of galaxy 5
    features[9] = features[5] + 0.05  # two other ring galaxies look alike
    features[17] = features[5] - 0.08
    return catalog, features, NeighbourIndex().fit(features)


def test_index_is_exact_l1(sky):
    catalog, features, index = sky
    queries = features[:7] + 0.3
    distances, rows = index.query(queries, k=10)
    brute = np.abs(queries[:, None, :] - features[None]).sum(-1)
    np.testing.assert_array_equal(
        rows, np.argsort(brute, axis=1, kind="stable")[:, :10]
    )
    np.testing.assert_allclose(distances, np.sort(brute, axis=1)[:, :10], rtol=1e-5)


def test_neighbours_leave_out_the_query_and_duplicates(sky):
    catalog, features, index = sky
    result = similar_galaxies(index, catalog, features[5], k=5, query_row=5)
    assert result["rank"].tolist() == [1, 2, 3, 4, 5]
    assert result["galaxy_id"][0] == "G006" and "G005" not in set(result["galaxy_id"])
    assert result["distance"].is_monotonic_increasing
    dropped = similar_galaxies(
        index, catalog, features[5], k=5, query_row=5, exclude_radius_arcsec=100
    )
    assert "G006" not in set(dropped["galaxy_id"]) and len(dropped) == 5
    assert (dropped["sep_arcsec"] >= 100).all()


def test_tags_are_counted_case_insensitively(sky):
    catalog, features, index = sky
    assert tag_counts(catalog, "#ring")[[5, 9, 17]].tolist() == [4, 2, 1]
    assert tags_in(catalog) == ["#ring", "#barred"]
    assert row_by_tag(catalog, "ring") == (5, 4)
    with pytest.raises(MorphCoreError, match="nobody used the tag '#lens'"):
        row_by_tag(catalog, "#lens")
    untagged = similar_galaxies(index, catalog, features[9], k=199, exclude_tag="#ring")
    assert not {"G005", "G009", "G017"} & set(untagged["galaxy_id"])
    assert len(untagged) == 197


def test_lookup_by_id_and_position(sky):
    catalog, _, _ = sky
    assert row_by_id(catalog, " g010 ") == 10
    with pytest.raises(MorphCoreError, match="no galaxy with id 'nope'"):
        row_by_id(catalog, "nope")
    ra, dec = catalog.loc[42, ["ra", "dec"]]
    row, sep = row_by_position(catalog, f"{ra + 1 / 3600} {dec}", 10)
    assert row == 42 and sep < 4
    with pytest.raises(MorphCoreError, match="no galaxy within 10 arcsec"):
        row_by_position(catalog, "10:00:00 +45:00:00", 10)
    with pytest.raises(MorphCoreError, match="give RA and Dec"):
        row_by_position(catalog, "1 2 3", 10)
    with pytest.raises(MorphCoreError, match="no sky positions"):
        row_by_position(catalog.drop(columns=["ra", "dec"]), "150 2", 10)


def test_search_by_each_route(sky):
    catalog, features, index = sky
    by_tag = search(index, catalog, features, "tag", "#ring", k=7)
    assert by_tag.query["galaxy_id"][0] == "G005" and "4 times" in by_tag.note
    # G006 is G005's duplicate (36 arcsec away): left out; next come the two
    # other ring galaxies, then five untagged ones
    assert by_tag.neighbours["galaxy_id"][:2].tolist() == ["G009", "G017"]
    assert by_tag.n_tagged == 2
    by_id = search(index, catalog, features, "galaxy id", "G010", k=3)
    assert by_id.query["galaxy_id"][0] == "G010" and len(by_id.neighbours) == 3
    ra, dec = catalog.loc[10, ["ra", "dec"]]
    by_sky = search(index, catalog, features, "sky position", f"{ra} {dec}", k=3)
    assert by_sky.neighbours.equals(by_id.neighbours)
    by_vector = search(index, catalog, features, "image", features[10], k=3)
    assert by_vector.neighbours["galaxy_id"][0] == "G010" and by_vector.query.empty


@pytest.mark.parametrize(
    ("route", "value", "message"),
    [
        ("tag", "#nothing", "nobody used"),
        ("galaxy id", "  ", "give a galaxy id"),
        ("sky position", "1 2 3", "give RA and Dec"),
        ("colour", "red", "unknown query route"),
    ],
)
def test_search_errors_are_clear(sky, route, value, message):
    catalog, features, index = sky
    with pytest.raises(MorphCoreError, match=message):
        search(index, catalog, features, route, value)


def test_k_is_bounded(sky):
    catalog, features, index = sky
    with pytest.raises(MorphCoreError, match="1 to 100"):
        search(index, catalog, features, "galaxy id", "G001", k=0)


def test_neighbours_can_be_limited_by_a_classifier_column(sky):
    catalog, features, index = sky
    catalog["pred_ring"] = np.linspace(0, 1, len(catalog))
    result = search(
        index, catalog, features, "galaxy id", "G010", k=7, only=("pred_ring", 0.8)
    )
    assert len(result.neighbours) == 7
    assert (result.neighbours["pred_ring"] >= 0.8).all()
    unfiltered = search(index, catalog, features, "galaxy id", "G010", k=7)
    assert (unfiltered.neighbours["pred_ring"] < 0.8).any()
    with pytest.raises(MorphCoreError, match="no galaxy has pred_ring >= 2"):
        search(index, catalog, features, "galaxy id", "G010", only=("pred_ring", 2))
