"""Storage: a dataset's folder of atomically written artefacts with input records
(:mod:`~morph_core.store.workspace`), and the append-only rating log
(:mod:`~morph_core.store.ratings`). Nothing here knows what the artefacts mean."""
