"""What layers above ingestion ask to be told, without ingestion importing them.

Ingestion sits below retrieval, chat and feedback, yet two of its actions concern their data:
a deleted document's text also lives in answer traces and review labels (chat, feedback), and
the worker process that ingestion runs is where periodic upkeep (feedback retention) happens.
The apps that own that data register a callable here in their AppConfig.ready(); ingestion calls
whatever is registered. Registration is idempotent by name, so a re-imported app adds nothing twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

logger = logging.getLogger(__name__)

DocumentForgetter = Callable[[int], int]


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    run: Callable[[], object]
    every_seconds: int


_forgetters: dict[str, DocumentForgetter] = {}
_periodic: dict[str, PeriodicJob] = {}


def document_forgetter_register(name: str, forget: DocumentForgetter) -> None:
    """`forget(document_id)` erases the document's text from the registrant's data (returns how many
    rows it changed); it runs inside document_delete's transaction, so both commit or neither."""
    _forgetters[name] = forget


def document_forget(*, document_id: int) -> dict[str, int]:
    """Run every registered forgetter for `document_id`; what each changed, by name."""
    return {name: forget(document_id) for name, forget in _forgetters.items()}


def periodic_register(job: PeriodicJob) -> None:
    """A job every ingestion worker runs about every `every_seconds` (idempotent jobs only:
    several workers may run it)."""
    _periodic[job.name] = job


def periodic_jobs() -> list[PeriodicJob]:
    return list(_periodic.values())
