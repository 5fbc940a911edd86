"""Fine-tuning runs as folders, trained by worker processes (no torch at import).

``folder`` (one run's files and whether its worker lives), ``sources`` (where
labels come from), ``queue`` (submit, start, stop, delete, list), ``worker`` (the
process that trains), ``apply`` (a finished run's column on every galaxy) and
``sweep`` (the label-count figure). The monitor page and the CLI use these; the
training itself is :mod:`morph_core.training.finetune`.
"""
