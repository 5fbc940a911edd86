import csv
import io

import pandas as pd

from morph_core.data.export import to_csv


def test_no_cell_can_run_as_a_spreadsheet_formula():
    table = pd.DataFrame(
        {
            "galaxy_id": ['=HYPERLINK("http://x")', "+1", "-2", "@SUM(A1)", "J1"],
            "note": ["\tx", "\rx", "ok", None, "a=b"],
            "rating": [-1, 2, 3, 4, 5],
        }
    )
    rows = _rows(to_csv(table))
    for row in rows:
        for value in (row["galaxy_id"], row["note"]):
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r"))
    assert [r["galaxy_id"] for r in rows][:2] == ['\'=HYPERLINK("http://x")', "'+1"]
    assert [r["rating"] for r in rows] == ["-1", "2", "3", "4", "5"]  # numbers kept
    assert [r["note"] for r in rows][2:] == ["ok", "", "a=b"]


def test_public_exports_leave_out_server_paths_and_keep_every_value(monkeypatch):
    table = pd.DataFrame(
        {
            "galaxy_id": ["a", "b"],
            "file": ["/srv/morph/images/a.png", "/srv/morph/images/b.png"],
            "distance": [0.25, float("nan")],
            "tagged": [True, False],
            "note": ['say "hi", then\r\nleave', None],
        }
    )
    local = _rows(to_csv(table))
    assert [r["file"] for r in local] == list(table["file"])
    monkeypatch.setenv("MORPH_MODE", "public")
    public = _rows(to_csv(table))
    assert "file" not in public[0] and b"/srv/" not in to_csv(table)
    assert [r["distance"] for r in public] == ["0.25", ""]
    assert [r["tagged"] for r in public] == ["true", "false"]
    assert public[0]["note"] == 'say "hi", then\r\nleave'  # quoted, one cell
    mixed = pd.DataFrame(
        {
            "galaxy_id": ["a", "b", "c"],
            "value": pd.Series(["=1+1", 2, None], dtype=object),
        }
    )
    assert [r["value"] for r in _rows(to_csv(mixed))] == ["'=1+1", "2", ""]


def _rows(data: bytes) -> list[dict]:
    assert data.endswith(b"\r\n")  # RFC 4180 line ends
    return list(csv.DictReader(io.StringIO(data.decode(), newline="")))
