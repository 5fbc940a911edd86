"""How participants reach a workshop: its join link and a QR code of it."""

from __future__ import annotations

import io
from urllib.parse import urlencode

import segno

JOIN_PAGE = "workshop"  # the URL path of pages/workshop.py


def join_link(base_url: str, code: str) -> str:
    """The link that opens the workshop page with the code filled in.

    >>> join_link("http://127.0.0.1:8501/", "K7MQ2P")
    'http://127.0.0.1:8501/workshop?code=K7MQ2P'
    """
    return f"{base_url.rstrip('/')}/{JOIN_PAGE}?{urlencode({'code': code})}"


def qr_png(text: str, scale: int = 10) -> bytes:
    """A PNG of ``text`` as a QR code (error correction M), to project."""
    buffer = io.BytesIO()
    segno.make(text, error="m").save(buffer, kind="png", scale=scale, border=2)
    return buffer.getvalue()
