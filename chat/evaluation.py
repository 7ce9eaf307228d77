"""Answer-quality evaluation: context recall, answer rate, token F1 / exact match against gold
answers (SQuAD normalisation), a lead-sentence baseline, citation validity before and after the
post-check, abstention on off-corpus questions, and latency."""

from __future__ import annotations

import collections
import re
import string

from chat.citations import MARKER


def normalize(text: str) -> str:
    text = text.lower()
    text = "".join(ch for ch in text if ch not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def token_f1(prediction: str, gold: str) -> float:
    pred, ref = normalize(prediction).split(), normalize(gold).split()
    common = collections.Counter(pred) & collections.Counter(ref)
    same = sum(common.values())
    if not pred or not ref or same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(ref)
    return 2 * precision * recall / (precision + recall)


def best_f1(prediction: str, golds: list[str]) -> float:
    return max((token_f1(prediction, g) for g in golds), default=0.0)


def exact_match(prediction: str, golds: list[str]) -> float:
    return float(any(normalize(prediction) == normalize(g) for g in golds))


def without_markers(text: str) -> str:
    return re.sub(r"\s*\[\d{1,3}\]", "", text).strip()


def raw_citation_checks(raw: str, passages: list[str]) -> tuple[int, int]:
    """(valid, total) citations of the backend's own text: [n] must name a passage and the
    sentence carrying it must appear verbatim in that passage."""
    valid = total = 0
    for sentence in re.split(r"(?<=[.!?])\s+|\n+", raw):
        claim = without_markers(sentence)
        for match in MARKER.finditer(sentence):
            total += 1
            n = int(match.group(1))
            if 1 <= n <= len(passages) and claim and claim in passages[n - 1]:
                valid += 1
    return valid, total


def lead_sentence(passage: str) -> str:
    from chat.citations import sentences

    found = sentences(passage)
    return found[0] if found else passage[:200]
