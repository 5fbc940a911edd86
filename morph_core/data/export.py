"""Tables to CSV for download, safe to open in a spreadsheet."""

from __future__ import annotations

import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def to_csv(table: pd.DataFrame) -> str:
    """CSV text of ``table`` where no text cell can run as a spreadsheet formula:
    a text cell starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return
    gets a leading apostrophe (OWASP's CSV-injection advice). Numbers are kept."""
    safe = table.copy()
    for column in safe.columns:
        if pd.api.types.is_numeric_dtype(safe[column]):
            continue
        safe[column] = safe[column].map(_defuse)
    safe.columns = [_defuse(str(c)) for c in safe.columns]
    return safe.to_csv(index=False, lineterminator="\r\n")  # RFC 4180: \r quoted


def _defuse(value):
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value
