"""Progress callbacks: the library reports, the edges (tqdm, st.progress) draw."""

from collections.abc import Callable

ProgressFn = Callable[[int, int], None]
"""``(done, total)`` for one long step."""

StageProgressFn = Callable[[str, int, int], None]
"""``(stage, done, total)`` for a pipeline of named stages."""
