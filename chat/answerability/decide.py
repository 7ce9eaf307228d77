"""The verdict: whether some candidate of the passages meets every constraint of the question
(`verdict`), or whether a language model's answer states what was asked (`answer_verdict`), with
why, for the trace."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from chat.answerability.candidates import Candidate, candidates, row_heads
from chat.answerability.constraints import Constraint, constraints_of
from chat.answerability.matching import Scope, entity_in, scope_unmet
from chat.answerability.words import (
    WORD,
    fold,
    measure_names,
    shortened,
    stem_of,
    stems_of,
    within_edits,
    word_stems,
)
from retrieval.types import ScoredChunk

# Of the content terms some passage holds, the share the answering candidate must hold.
TERM_SHARE = 0.0


# A question naming this many things the passages hold is specific enough to ignore a content
# word none of them holds.
SPECIFIC_ENOUGH = 3


@dataclass
class Verdict:
    answerable: bool
    why: str  # one line for the trace and the review page
    constraints: list[Constraint] = field(default_factory=list)
    met: list[tuple[str, str]] = field(default_factory=list)  # (constraint label, where: "[n] text")
    unmet: list[str] = field(default_factory=list)  # labels the nearest candidate lacks
    nearest: str = ""  # "[n] text" of the best candidate
    nearest_n: int | None = None  # the passage it lies in
    checked: str = "passages"  # what was checked: the passages (before generation) or the model's answer

    def as_json(self) -> dict[str, object]:
        return {"answerable": self.answerable, "why": self.why, "checked": self.checked,
                "constraints": [c.label() for c in self.constraints], "met": [list(m) for m in self.met],
                "unmet": self.unmet, "nearest": self.nearest}


# What an answer itself must say: the year, period, date and number asked about, and the kind of
# answer (names may be paraphrased or left to the cited passage).
ANSWER_KINDS = ("year", "period", "month", "number", "answer")


def answer_verdict(question: str, answer: str, *, previous: str = "",
                   constraints: Sequence[Constraint] | None = None) -> Verdict:
    """The same check applied to a language model's answer (with the sentences it cites): it must
    hold the question's years, periods, months and numbers and the kind of answer asked for. An
    answer that says the documents do not cover the question is not answerable."""
    wanted = list(constraints) if constraints is not None else constraints_of(question, previous)
    # Markers, and a document's own bracketed numbers copied as text ("[\u206032]"), state nothing.
    text = re.sub(r"\[\u2060?\d{1,3}\]", "", answer)
    if not text.strip() or "documents do not cover this" in text.lower():
        return Verdict(False, "the model said the documents do not cover this", wanted, checked="answer")
    own = [c for c in wanted if c.kind in ANSWER_KINDS]
    scope = Scope(text=text, near=text, document=text, near_stems=stems_of(text), row_heads=[])
    failed = scope_unmet(own, scope, question)
    if failed:
        labels = [c.label() for c in failed]
        return Verdict(False, f"the model's answer does not state {', '.join(labels)}", wanted, unmet=labels,
                       nearest=shortened(text), checked="answer")
    met = [(c.label(), "the answer") for c in own]
    return Verdict(True, "the model's answer states " + (", ".join(c.label() for c in own) or "no constraint"),
                   wanted, met=met, nearest=shortened(text), checked="answer")


def verdict(question: str, passages: Sequence[ScoredChunk], *, previous: str = "",
            constraints: Sequence[Constraint] | None = None) -> Verdict:
    """Whether some candidate of `passages` meets the constraints of `question`.

    A content term found in no passage (nor a word an edit or two from it: typing errors) is
    unmet, unless the question names at least SPECIFIC_ENOUGH other things the passages do hold
    (a long question's side words are often paraphrased). Of the content terms the passages hold,
    the candidate's neighbourhood must hold TERM_SHARE; every other constraint must be met."""
    wanted = list(constraints) if constraints is not None else constraints_of(question, previous)
    if not passages:
        return Verdict(False, "no passages", wanted)
    documents = [f"{p.text}\n{p.filename}\n{' '.join(p.heading_path or [])}" for p in passages]
    vocabulary = _vocabulary(documents)
    # A measure's other nouns stand for it ("Price" for "cost").
    variants = {c.value: set().union(*(_variants(n, vocabulary) for n in measure_names(c.value)))
                for c in wanted if c.kind == "term" and not c.soft}
    absent = [c for c in wanted if c.kind == "term" and not c.soft and not variants[c.value]]
    held = [c for c in wanted if (c.kind == "term" and not c.soft and variants[c.value])
            or (c.kind == "entity" and any(entity_in(c.value, d) for d in documents))]
    if absent and len(held) < SPECIFIC_ENOUGH:
        return Verdict(False, f"no passage mentions {', '.join(repr(c.value) for c in absent)}", wanted,
                       unmet=[c.label() for c in absent])
    checked = [c for c in wanted if c not in absent]
    best = _best(question, checked, passages, documents, variants)
    if best is None:
        return Verdict(False, "no sentence or row to answer from", wanted)
    candidate, failed, enough = best
    where = f"[{candidate.n}] {shortened(candidate.text)}"
    failed_hard = [c for c in failed if c.kind != "term"]
    ignored = f"; not in any passage, but the question is specific: {', '.join(repr(c.value) for c in absent)}" if absent else ""
    if not failed_hard and enough:
        met = [(c.label(), where) for c in checked if c not in failed and not c.soft]
        why = "answerable: " + (", ".join(label for label, _ in met) or "no constraints")
        return Verdict(True, f"{why} met by {where}{ignored}", wanted, met=met, nearest=where, nearest_n=candidate.n)
    labels = [c.label() for c in failed]
    return Verdict(False, f"no sentence or row meets {', '.join(labels)} (nearest: {where})", wanted,
                   unmet=labels, nearest=where, nearest_n=candidate.n)


def _vocabulary(documents: Sequence[str]) -> dict[str, str]:
    """Every folded word of the passages, with its stem."""
    return dict(word_stems(list(dict.fromkeys(w for document in documents for w in WORD.findall(fold(document))))))


def _variants(term: str, vocabulary: dict[str, str]) -> set[str]:
    """The stems in the passages that stand for `term`: its own; a word it begins (a compound:
    "promo" in "promocode", "phone" in "telephone"); words an edit from it (two for words of 9 letters or more; none
    under 7 letters: "tents" is not "tests")."""
    stem = stem_of(term)
    stems = set(vocabulary.values())
    found = {stem} if stem in stems else set()
    word = fold(term)
    if len(word) >= 5:
        found |= {other_stem for other, other_stem in vocabulary.items()
                  if (len(other) >= len(word) + 3 and other.startswith(word))
                  or (len(other) >= len(word) + 4 and other.endswith(word))}
    if len(word) >= 7:
        limit = 1 if len(word) < 9 else 2
        found |= {other_stem for other, other_stem in vocabulary.items()
                  if abs(len(other) - len(word)) <= limit and other[0] == word[0] and within_edits(word, other, limit)}
    return found


def _best(question: str, wanted: Sequence[Constraint], passages: Sequence[ScoredChunk], documents: Sequence[str],
          variants: dict[str, set[str]]) -> tuple[Candidate, list[Constraint], bool] | None:
    """The candidate that fails fewest constraints, earliest passage first, and whether its
    neighbourhood holds TERM_SHARE of the content terms' weight (a term's weight: its inverse
    frequency over the candidates' neighbourhoods, so the rare term of "the price of oranges"
    counts more than "price")."""
    heads = [row_heads(p.text) for p in passages]
    # A document's file name and headings name what all of it is about.
    labels = [f"{p.filename} {' '.join(p.heading_path or [])}".replace("-", " ").replace("_", " ") for p in passages]
    label_stems = [stems_of(label) for label in labels]
    found = candidates(passages)
    near_stems: dict[str, set[str]] = {}
    for candidate in found:
        if candidate.near not in near_stems:
            near_stems[candidate.near] = stems_of(candidate.near)
    terms = [c for c in wanted if c.kind == "term" and not c.soft]
    holding = {c.value: sum(1 for stems in near_stems.values() if stems & variants.get(c.value, set())) for c in terms}
    weight = {t: math.log(1 + (len(near_stems) + 1) / (n + 1)) for t, n in holding.items()}
    total = sum(weight.values())
    best: tuple[tuple[int, int, float], Candidate, list[Constraint], bool] | None = None
    for candidate in found:
        i = candidate.n - 1
        scope = Scope(text=candidate.text, near=f"{candidate.near}\n{labels[i]}", document=documents[i],
                       near_stems=near_stems[candidate.near] | label_stems[i], row_heads=heads[i], row=candidate.row,
                       heading=candidate.heading, cells=candidate.cells)
        failed = scope_unmet(wanted, scope, question, variants)
        hard = sum(1 for c in failed if c.kind != "term")
        missing = sum(weight[c.value] for c in failed if c.kind == "term" and c.value in weight)
        enough = total == 0 or (total - missing) >= TERM_SHARE * total - 1e-9
        key = (hard + (0 if enough else 1), hard, missing)
        if best is None or key < best[0]:
            best = (key, candidate, failed, enough)
            if key[0] == 0 and missing == 0:
                break
    return (best[1], best[2], best[3]) if best else None
