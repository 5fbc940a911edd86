"""AppTest fixtures: what a page offered for download."""

import pytest
from streamlit.runtime.media_file_manager import MediaFileManager


@pytest.fixture
def downloads(monkeypatch) -> dict[str, bytes]:
    """File name -> bytes of every download button the pages drew."""
    files: dict[str, bytes] = {}
    add = MediaFileManager.add

    def recording_add(self, data, mimetype, coordinates, file_name=None, *args, **kw):
        if file_name is not None:
            files[file_name] = data.encode() if isinstance(data, str) else data
        return add(self, data, mimetype, coordinates, file_name, *args, **kw)

    monkeypatch.setattr(MediaFileManager, "add", recording_add)
    return files
