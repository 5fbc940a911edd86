"""The tools of the paper as plain functions and estimators on arrays and tables:
similarity search (§2.4), the explorer's selections (§2.3) and the anomaly finder
(§3). Nothing here opens a file: the dataset and app layers hand them arrays."""
