"""Finding the galaxies a person finds interesting (Walmsley+22 §3).

``acquisition`` holds the expected-improvement formula, ``metrics`` the paper's
scores of a ranking, ``raters`` the simulated raters of the benchmarks.
"""
