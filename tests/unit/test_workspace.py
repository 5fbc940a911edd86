import numpy as np
import pandas as pd
import pytest

from morph_core.errors import MorphCoreError
from morph_core.store.workspace import Workspace


def test_arrays_tables_and_freshness(tmp_path):
    ws = Workspace(tmp_path / "d")
    ws.write_array("f/a.npy", np.arange(6, dtype=np.float32).reshape(3, 2), {"k": 1})
    assert ws.is_fresh("f/a.npy", {"k": 1}) and not ws.is_fresh("f/a.npy", {"k": 2})
    assert ws.read_array("f/a.npy").shape == (3, 2)
    assert not ws.is_fresh("absent.npy", {"k": 1})
    with pytest.raises(MorphCoreError, match="run prepare"):
        ws.read_array("absent.npy")


def test_a_failed_write_leaves_the_old_file_and_no_temp(tmp_path, monkeypatch):
    ws = Workspace(tmp_path / "d")
    ws.write_array("a.npy", np.ones(3))

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "save", crash)
    with pytest.raises(OSError, match="disk full"):
        ws.write_array("a.npy", np.zeros(3))
    monkeypatch.undo()
    np.testing.assert_array_equal(ws.read_array("a.npy"), np.ones(3))
    assert [p.name for p in ws.path.iterdir()] == ["a.npy"]


def test_object_arrays_are_never_unpickled(tmp_path):
    ws = Workspace(tmp_path)
    np.save(
        tmp_path / "evil.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True
    )
    with pytest.raises(ValueError, match="allow_pickle"):
        ws.read_array("evil.npy", mmap=False)


def test_records_decide_freshness_as_json_reads_them(tmp_path):
    ws = Workspace(tmp_path / "d")
    ws.write_table("t.parquet", pd.DataFrame({"a": [1]}), {"shape": (1, 1)})
    assert ws.is_fresh("t.parquet", {"shape": (1, 1)})  # tuples read back as lists
    assert ws.record("t.parquet") == {"shape": [1, 1]}
    assert ws.record("absent.parquet") is None
