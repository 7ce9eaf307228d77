"""The BM25 tokeniser: lower-case words, English stop-words dropped, Snowball-stemmed.

Owned by ingestion (which writes the postings) and used by retrieval (which tokenises queries), so both
sides always agree. Configurable through BM25_STEMMER ("english", ..., or "none") and
BM25_STOPWORDS ("english" or "none").
"""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache

import Stemmer
from django.conf import settings

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
MAX_TERM_LENGTH = 64

ENGLISH_STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further had
    has have having he her here hers herself him himself his how i if in into is it its itself just
    me more most my myself no nor not now of off on once only or other our ours ourselves out over
    own same she should so some such than that the their theirs them themselves then there these
    they this those through to too under until up very was we were what when where which while who
    whom why will with would you your yours yourself yourselves""".split()
)


@lru_cache(maxsize=4)
def _stemmer(language: str) -> Stemmer.Stemmer:
    return Stemmer.Stemmer(language)


class Tokenizer:
    def __init__(self, *, stemmer: str = "english", stopwords: str = "english") -> None:
        self.stemmer_language = stemmer
        self.stopwords = ENGLISH_STOPWORDS if stopwords == "english" else frozenset()

    def __call__(self, text: str) -> list[str]:
        words = [w for w in _WORD.findall(text.lower()) if w not in self.stopwords]
        if self.stemmer_language != "none":
            words = _stemmer(self.stemmer_language).stemWords(words)
        return [w[:MAX_TERM_LENGTH] for w in words]


def default_tokenizer() -> Tokenizer:
    return Tokenizer(
        stemmer=settings.BM25_STEMMER,
        stopwords=settings.BM25_STOPWORDS,
    )


def term_frequencies(tokens: list[str]) -> Counter[str]:
    return Counter(tokens)
