# The dashboard as a public demo, with the demo sky prepared at build time.
#
#   docker build -t morph-demo .
#   docker run -p 127.0.0.1:8501:8501 \
#       -v "$PWD/.streamlit/secrets.toml:/app/.streamlit/secrets.toml:ro" morph-demo
#
# BASE: any Debian image with Python 3.11 (python:3.11-slim-bookworm where a
# registry is reachable; where none is, a Debian made with debootstrap and
# `docker import`, with python3.11 and python3.11-venv installed).
# PIP_INDEX_URL / PIP_FIND_LINKS / PIP_TRUSTED_HOST: where the build's pip
# looks (e.g. wheels fetched on the host with `pip download -r requirements.txt`
# and served over http on 127.0.0.1, built with `--network host`): see README,
# "Hosting a public demo", for the commands that built and ran it here.
ARG BASE=python:3.11-slim-bookworm
FROM ${BASE}
ARG PIP_INDEX_URL=https://pypi.org/simple
ARG PIP_FIND_LINKS=""
ARG PIP_TRUSTED_HOST=""

RUN useradd --create-home --uid 10001 morph
WORKDIR /app
COPY requirements.txt .
RUN python3.11 -m venv /app/.venv \
    && /app/.venv/bin/pip install --no-cache-dir --disable-pip-version-check \
       -r requirements.txt
COPY --chown=morph:morph . .
RUN mkdir -p /app/workspace && chown morph:morph /app/workspace
USER morph
ENV MORPH_WORKSPACE=/app/workspace \
    MORPH_MODE=public \
    OMP_NUM_THREADS=2
# the demo sky: rendered, embedded, PCA, UMAP and ellipse fits, once, here
RUN /app/.venv/bin/python -m morph_core prepare
EXPOSE 8501
HEALTHCHECK CMD /app/.venv/bin/python -c "import urllib.request as u; \
    u.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=5)"
CMD ["/app/.venv/bin/python", "-m", "morph_core", "serve", "--public", \
     "--address", "0.0.0.0", "--port", "8501"]
