"""Token overlap of an answer with a gold answer (SQuAD's normalisation and F1).

Product code: feedback's golden-set run (evaluate_golden) scores today's answers with it; the
answer benchmark in bench/ also reports exact match."""

from __future__ import annotations

import collections
import re
import string

_PUNCTUATION = frozenset(string.punctuation)


def normalize(text: str) -> str:
    text = text.lower()
    text = "".join(ch for ch in text if ch not in _PUNCTUATION)
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
