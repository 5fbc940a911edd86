"""The one caching pattern of the pipeline: input record -> fresh? -> compute ->
atomic write (Astronomaly's pipeline stages, with the record in a sidecar
instead of a log file).

A stage names its main output (a path :class:`~morph_core.dataset.PreparedDataset`
gives it) and the record of everything that output follows from: input
fingerprints, parameters and a version. The output's sidecar holds that record;
the stage is fresh when the two are equal. Companion files are written before
the main output, so an interrupted write leaves the stage stale, never
half-fresh.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Generic, TypeVar

from morph_core.dataset import PreparedDataset
from morph_core.progress import ProgressFn

T = TypeVar("T")


class Stage(ABC, Generic[T]):
    """One derived artefact of a dataset.

    Subclasses set :attr:`output` and define :meth:`inputs`, :meth:`compute`,
    :meth:`write` and :meth:`read`; callers use :meth:`run`.
    """

    output: str

    def __init__(self, dataset: PreparedDataset):
        self.dataset = dataset
        self.workspace = dataset.workspace
        self.computed = False

    @abstractmethod
    def inputs(self) -> dict[str, Any]:
        """The record of everything the output follows from."""

    @abstractmethod
    def compute(self, progress: ProgressFn | None) -> T:
        """Make the output (no writing)."""

    @abstractmethod
    def write(self, value: T, record: dict[str, Any]) -> None:
        """Write companions, then :attr:`output` with ``record`` as its sidecar."""

    @abstractmethod
    def read(self) -> T:
        """The stored output."""

    def record(self) -> dict[str, Any] | None:
        """The record the stored output was made from (``None`` if there is none)."""
        return self.workspace.record(self.output)

    def run(self, progress: ProgressFn | None = None) -> T:
        """The output: read when fresh, else computed and written first."""
        record = self.inputs()
        if self.workspace.is_fresh(self.output, record):
            if progress:
                progress(1, 1)
            return self.read()
        value = self.compute(progress)
        self.write(value, record)
        self.computed = True
        return value
