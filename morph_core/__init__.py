"""morph_core: galaxy morphology tools from deep representations (Walmsley+22).

Importable without Streamlit; only :mod:`morph_core.model` and
:mod:`morph_core.training` import torch (and only their modules that need it),
so the tools that read prepared features start fast. The README's code map says
which room holds what.
"""

from morph_core.data.manifest import load_manifest
from morph_core.dataset import PreparedDataset, open_dataset
from morph_core.errors import CatalogError, ManifestError, MorphCoreError, WeightsError

__all__ = [
    "CatalogError",
    "ManifestError",
    "MorphCoreError",
    "PreparedDataset",
    "WeightsError",
    "load_manifest",
    "open_dataset",
]
