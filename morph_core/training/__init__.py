"""Training the encoder: one loop (:mod:`~morph_core.training.loop`) for
pretraining on volunteer votes and for fine-tuning on a few labels, the
unfreezing schedule, and the labels of a fine-tuning run.

``config`` and ``labels`` import no torch (pages and the run queue use them);
the rest, with :mod:`morph_core.model`, are the only torch importers."""
