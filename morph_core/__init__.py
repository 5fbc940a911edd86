"""morph_core: galaxy morphology tools from deep representations (Walmsley+22).

Importable without Streamlit; torch is imported only by ``encoder`` (and the
prepare step that embeds images), so tools that read cached features start fast.
"""

from morph_core.errors import CatalogError, ManifestError, MorphCoreError, WeightsError
from morph_core.manifest import load_manifest
from morph_core.workspace import Workspace, open_workspace

__all__ = [
    "CatalogError",
    "ManifestError",
    "MorphCoreError",
    "WeightsError",
    "Workspace",
    "load_manifest",
    "open_workspace",
]
