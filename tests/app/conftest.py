"""AppTest fixtures: what a page offered for download."""

import pytest
from streamlit.runtime.media_file_manager import MediaFileManager


@pytest.fixture
def downloads(monkeypatch) -> dict[str, bytes]:
    """File name -> bytes of every download button the pages drew (a deferred
    one is written when drawn, as a click then would)."""
    files: dict[str, bytes] = {}
    add, add_deferred = MediaFileManager.add, MediaFileManager.add_deferred

    def recording_add(self, data, mimetype, coordinates, file_name=None, *args, **kw):
        if file_name is not None:
            files[file_name] = data.encode() if isinstance(data, str) else data
        return add(self, data, mimetype, coordinates, file_name, *args, **kw)

    def recording_deferred(self, write, mimetype, coordinates, file_name=None, **kw):
        data = write()  # what a click would download now
        files[file_name] = data.encode() if isinstance(data, str) else data
        return add_deferred(self, write, mimetype, coordinates, file_name, **kw)

    monkeypatch.setattr(MediaFileManager, "add", recording_add)
    monkeypatch.setattr(MediaFileManager, "add_deferred", recording_deferred)
    return files
