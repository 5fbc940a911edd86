"""Where galaxies come from: the manifest, downloads, catalogues, image decoding,
sky positions, sources (folders, FITS, HDF5, label tables) and the synthetic sky.

Nothing here writes to a workspace: sources render into a folder they are given,
and the pipeline decides when that is needed."""
