"""Prepare: the derived artefacts of a dataset, each made by one :class:`Stage`.

Every stage follows one pattern (:mod:`~morph_core.pipeline.stage`): its input
record, whether its output was made from exactly that record, and how to make
and atomically write it. :func:`~morph_core.pipeline.prepare.prepare` runs them
in order: source -> check -> embed -> catalog -> reduce (PCA) -> umap -> ellipse.
"""
