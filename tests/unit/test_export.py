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
    text = to_csv(table)
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    for row in rows:
        for value in (row["galaxy_id"], row["note"]):
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r"))
    assert [r["galaxy_id"] for r in rows][:2] == ['\'=HYPERLINK("http://x")', "'+1"]
    assert [r["rating"] for r in rows] == ["-1", "2", "3", "4", "5"]  # numbers kept
    assert [r["note"] for r in rows][2:] == ["ok", "", "a=b"]
