"""Errors a user can cause and act on; each message names the problem and a fix."""


class MorphCoreError(Exception):
    """An error shown to the user: CLI exit code 2, ``st.error`` in the UI."""


class ManifestError(MorphCoreError):
    """``data_manifest.yaml`` is missing, malformed, or names an unknown entry."""


class CatalogError(MorphCoreError):
    """A catalogue cannot be used at all (missing columns, unreadable CSV)."""


class WeightsError(MorphCoreError):
    """Encoder weights are missing, unsafe, or do not fit the architecture."""


class ImageError(MorphCoreError):
    """One image cannot be read; the galaxy is skipped, the rest goes on."""
