"""The Streamlit layer: the only modules that import streamlit.

``cache`` (loaders keyed by dataset and version), ``actions`` (long work with a
progress bar), ``widgets`` (thumbnails, galleries), ``routing`` (the pages and
the dataset they need) and ``figures`` (Plotly figures; no streamlit). Importing
this package imports nothing: pages import the modules they use."""
