"""The encoder and what is built on it.

``spec`` (what defines an encoder) and ``weights`` (the one resolver from a
choice such as "pretrained" to a spec) import no torch; ``encoder``, ``heads`` and
``augment`` do, and with :mod:`morph_core.training` they are the only modules that
import torch or timm."""
