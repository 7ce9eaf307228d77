"""What search() takes from feedback, behind a small protocol (feedback sits above retrieval).

Feedback registers its implementation in `FeedbackConfig.ready()`; until then (or in a project
without the feedback app) the default applies: no learned tuning and no signals, so search ranks
by the retrievers alone."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from retrieval.types import Signal, Tuning


class RankingFeedback(Protocol):
    def tuning(self) -> Tuning:
        """The learned fusion weights and query adapter in force."""
        ...

    def signals(self, chunk_ids: Sequence[int]) -> dict[int, Signal]:
        """The signal of each of `chunk_ids` that has one (chunks without one are left out)."""
        ...

    def version(self) -> str:
        """Changes whenever what tuning() or signals() return may have changed (caches key on it)."""
        ...


class NoFeedback:
    """The neutral provider: default tuning, no signals."""

    def tuning(self) -> Tuning:
        return Tuning()

    def signals(self, chunk_ids: Sequence[int]) -> dict[int, Signal]:
        return {}

    def version(self) -> str:
        return "none"


_provider: RankingFeedback = NoFeedback()


def ranking_feedback_register(provider: RankingFeedback) -> None:
    """Make `provider` the source of tuning and signals for every later search (one per process)."""
    global _provider
    _provider = provider


def ranking_feedback() -> RankingFeedback:
    return _provider
