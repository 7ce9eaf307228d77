"""What retrieval reads from feedback: the ranking signals of a candidate set and the learned tuning.

Retrieval sits below feedback and never imports it: `LearnedFeedback` implements retrieval's
RankingFeedback protocol with these two selectors, and FeedbackConfig.ready() registers it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import numpy as np
from django.conf import settings
from django.db import connection
from django.utils import timezone

from feedback.models import LearnedRanking
from ingestion.embedding import configured_model
from retrieval.types import Signal, Tuning

_SIGNALS_SQL = """
WITH c AS (SELECT id, document_id FROM ingestion_chunk WHERE id = ANY(%(ids)s)),
staff AS (
  SELECT c.id, bool_or(s.action = 'hide') AS hidden,
         sum(CASE s.action WHEN 'boost' THEN 1 WHEN 'demote' THEN -1 ELSE 0 END) AS direction,
         string_agg(s.action || CASE WHEN s.chunk_id IS NULL THEN ' document' ELSE ' chunk' END, ', ') AS what
  FROM c JOIN feedback_rankingsignal s ON s.document_id = c.document_id AND (s.chunk_id IS NULL OR s.chunk_id = c.id)
  GROUP BY c.id
),
per_user AS (
  SELECT c.id, e.user_id,
         greatest(-%(cap)s, least(%(cap)s, sum(
           e.value * power(0.5, extract(epoch FROM now() - e.created_at) / %(half_life)s)))) AS weight
  FROM c JOIN feedback_signalevidence e ON e.document_id = c.document_id AND (e.chunk_id IS NULL OR e.chunk_id = c.id)
  GROUP BY c.id, e.user_id
),
votes AS (SELECT id, sum(weight) AS weight, count(*) AS users FROM per_user GROUP BY id)
SELECT coalesce(staff.id, votes.id), coalesce(staff.hidden, false), coalesce(staff.direction, 0),
       coalesce(staff.what, ''), coalesce(votes.weight, 0), coalesce(votes.users, 0)
FROM staff FULL OUTER JOIN votes ON votes.id = staff.id
"""


def ranking_signals(chunk_ids: Sequence[int]) -> dict[int, Signal]:
    """The feedback signal of each chunk that has one, in one query for the whole candidate set.

    Staff boost/demote count FEEDBACK_SIGNAL_STAFF each way; reviewed votes count
    FEEDBACK_SIGNAL_VOTE_STEP each, decayed by age (half-life), summed per user and capped at
    FEEDBACK_SIGNAL_USER_CAP votes per user, so no single user dominates; the total is bounded by
    FEEDBACK_SIGNAL_MAX. Signals on a document apply to all its chunks."""
    if not chunk_ids:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(_SIGNALS_SQL, {"ids": list(chunk_ids), "cap": settings.FEEDBACK_SIGNAL_USER_CAP,
                                      "half_life": settings.FEEDBACK_SIGNAL_HALF_LIFE_DAYS * 86400.0})
        rows = cursor.fetchall()
    bound = settings.FEEDBACK_SIGNAL_MAX
    signals = {}
    for chunk_id, hidden, direction, what, votes, users in rows:
        raw = direction * settings.FEEDBACK_SIGNAL_STAFF + float(votes) * settings.FEEDBACK_SIGNAL_VOTE_STEP
        notes = [f"staff: {what}"] if what else []
        if users:
            notes.append(f"votes {float(votes):+.2f} from {users} user{'s' if users != 1 else ''}")
        signals[chunk_id] = Signal(adjustment=max(-bound, min(bound, raw)), hidden=hidden, note="; ".join(notes))
    return signals


# The adapter matrix in force, read once per process (learned rows are never changed).
_adapter_cache: tuple[int, np.ndarray] | None = None


def learned_tuning() -> Tuning:
    """The learned fusion weights and query adapter in force (the newest active row of each kind,
    when its setting allows it; the adapter only for the embedding model it was trained on)."""
    latest = {}
    for row in LearnedRanking.objects.order_by("kind", "-id").distinct("kind").defer("matrix"):
        latest[row.kind] = row
    tuning = Tuning()
    fusion = latest.get(LearnedRanking.Kind.FUSION)
    if fusion is not None and fusion.active and settings.FEEDBACK_LEARNED_FUSION:
        tuning.fusion_weights = {name: float(w) for name, w in fusion.params.items()}
        tuning.notes.append(f"fusion weights {_weights_text(tuning.fusion_weights)}, learned "
                            f"{fusion.trained_at:%Y-%m-%d %H:%M} from {fusion.examples} labelled queries")
    adapter = latest.get(LearnedRanking.Kind.ADAPTER)
    if (adapter is not None and adapter.active and settings.FEEDBACK_LEARNED_ADAPTER
            and adapter.embedding_model == configured_model()[0]):
        tuning.query_adapter = _adapter_matrix(adapter)
        tuning.notes.append(f"query adapter learned {adapter.trained_at:%Y-%m-%d %H:%M} "
                            f"from {adapter.examples} labelled queries")
    return tuning


def _adapter_matrix(row: LearnedRanking) -> np.ndarray:
    global _adapter_cache
    cached = _adapter_cache
    if cached is not None and cached[0] == row.id:
        return cached[1]
    blob = LearnedRanking.objects.values_list("matrix", flat=True).get(pk=row.id)
    n = int(row.params["dimensions"])
    matrix = np.frombuffer(bytes(cast(bytes, blob)), dtype=np.float32).reshape(n, n)
    _adapter_cache = (row.id, matrix)
    return matrix


def _weights_text(weights: dict[str, float]) -> str:
    return " · ".join(f"{name} {weight:.2f}" for name, weight in sorted(weights.items()))


_VERSION_SQL = """
SELECT (SELECT count(*) || ':' || coalesce(max(updated_at)::text, '') FROM feedback_rankingsignal),
       (SELECT count(*) || ':' || coalesce(max(id), 0) FROM feedback_signalevidence),
       (SELECT coalesce(max(id), 0) FROM feedback_learnedranking)
"""


_SETTINGS = ("FEEDBACK_SIGNALS", "FEEDBACK_SIGNAL_MAX", "FEEDBACK_SIGNAL_STAFF", "FEEDBACK_SIGNAL_VOTE_STEP",
             "FEEDBACK_SIGNAL_USER_CAP", "FEEDBACK_SIGNAL_HALF_LIFE_DAYS", "FEEDBACK_LEARNED_FUSION",
             "FEEDBACK_LEARNED_ADAPTER")


def ranking_version() -> str:
    """A value that changes whenever the tuning or any signal search would use changes: staff
    decisions (added, changed, removed), reviewed-vote evidence (rebuilt with each vote), a newly
    learned ranking, the settings that switch them, and the day (vote signals decay with age)."""
    with connection.cursor() as cursor:
        cursor.execute(_VERSION_SQL)
        row = cursor.fetchone() or ()
    switches = [getattr(settings, name) for name in _SETTINGS]
    return "|".join(str(part) for part in (*row, *switches, timezone.now().date()))


class LearnedFeedback:
    """Feedback's side of retrieval.feedback_port.RankingFeedback: the learned tuning, and the
    signals of a candidate set when FEEDBACK_SIGNALS is on."""

    def tuning(self) -> Tuning:
        return learned_tuning()

    def signals(self, chunk_ids: Sequence[int]) -> dict[int, Signal]:
        return ranking_signals(chunk_ids) if settings.FEEDBACK_SIGNALS else {}

    def version(self) -> str:
        return ranking_version()
