"""Record benchmark figures: JSON per topic, and a table in benchmarks/README.md."""

from __future__ import annotations

import json
import platform
import re
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent


def machine() -> dict[str, str]:
    import os

    return {
        "cpu": platform.processor() or platform.machine(),
        "cores": str(os.cpu_count()),
        "python": platform.python_version(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def record(topic: str, results: dict, table: str) -> None:
    """Write ``results/<topic>.json`` and replace the topic's table in README.md."""
    (HERE / "results").mkdir(exist_ok=True)
    path = HERE / "results" / f"{topic}.json"
    path.write_text(json.dumps(results | {"machine": machine()}, indent=2) + "\n")
    readme = HERE / "README.md"
    text = readme.read_text() if readme.exists() else "# Benchmarks\n"
    start, end = f"<!-- {topic}:start -->", f"<!-- {topic}:end -->"
    block = f"{start}\n{table.strip()}\n{end}"
    if start in text:
        text = re.sub(f"{re.escape(start)}.*?{re.escape(end)}", block, text, flags=re.S)
    else:
        text = text.rstrip() + f"\n\n## {topic}\n{block}\n"
    readme.write_text(text)
    print(table)
