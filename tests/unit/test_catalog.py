import pandas as pd
import pytest

from morph_core.data.catalog import read_catalog_csv, validate_catalog
from morph_core.errors import CatalogError


def test_missing_columns_name_what_is_there(tmp_path):
    with pytest.raises(CatalogError, match=r"missing file \(found: galaxy_id, ra\)"):
        validate_catalog(pd.DataFrame({"galaxy_id": ["a"], "ra": [1.0]}), tmp_path)


def test_row_problems_skip_rows_with_reasons(tmp_path):
    for name in ("a.png", "b.png", "c.png"):
        (tmp_path / name).write_bytes(b"x")
    table = pd.DataFrame(
        {
            "galaxy_id": ["a", "a", "b", "c", "d", ""],
            "file": ["a.png", "b.png", "b.png", "c.png", "d.png", "a.png"],
            "ra": [10.0, 11.0, 400.0, 12.0, 13.0, 14.0],
            "dec": [0.0, 0.0, 0.0, -91.0, 0.0, 0.0],
        }
    )
    catalog, skipped = validate_catalog(table, tmp_path)
    assert catalog["galaxy_id"].tolist() == ["a"]
    assert catalog["file"][0] == str(tmp_path / "a.png")
    reasons = dict(zip(skipped["galaxy_id"], skipped["reason"], strict=True))
    assert reasons == {
        "a": "duplicate galaxy_id (first kept)",
        "b": "ra outside [0, 360) degrees",
        "c": "dec outside [-90, 90] degrees",
        "d": "image file not found",
        "": "empty galaxy_id",
    }


def test_non_numeric_positions_are_an_error(tmp_path):
    table = pd.DataFrame({"galaxy_id": ["a"], "file": ["a.png"], "ra": ["10h"]})
    with pytest.raises(CatalogError, match="'ra' must hold numbers"):
        validate_catalog(table, tmp_path)


def test_read_csv_maps_columns_and_keeps_ids_as_text(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("objid,file\n0012,a.png\n")
    table = read_catalog_csv(path, {"galaxy_id": "objid"})
    assert table["galaxy_id"].tolist() == ["0012"]
    with pytest.raises(CatalogError, match="has no column 'iauname'"):
        read_catalog_csv(path, {"galaxy_id": "iauname"})
    with pytest.raises(CatalogError, match="catalogue not found"):
        read_catalog_csv(tmp_path / "absent.csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(CatalogError, match="not a readable CSV"):
        read_catalog_csv(tmp_path / "empty.csv")
