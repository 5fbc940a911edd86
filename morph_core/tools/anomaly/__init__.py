"""Finding the galaxies a person finds interesting (Walmsley+22 §3).

``finder`` (the GP estimator), ``acquisition`` (expected improvement),
``session`` (one rater's batches), ``features`` (which representation),
``baseline`` and ``ellipse`` (Astronomaly's), ``metrics`` (the paper's scores of
a ranking), ``simulated`` (the benchmarks' raters).
"""
