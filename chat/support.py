"""Whether a quote supports a claim: it holds the claim's load-bearing content.

Load-bearing: every number (years and dates included; "12,553" and "12553" are one number),
every name (a capitalised word that does not merely start the sentence, an acronym), and most
of the claim's content words (the BM25 tokenizer's terms: stemmed, stop words left out). No
model: the same rule for every backend, cheap enough to run on every sentence of every answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from chat.markers import plain
from ingestion.tokenize import default_tokenizer

CONTENT_SHARE = 0.6  # "most of its content words"
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_WORD = re.compile(r"[^\W\d_][\w'’-]*")


def numbers_in(text: str) -> set[str]:
    return {m.group(0).replace(",", "").rstrip(".") for m in _NUMBER.finditer(text)}


def names_in(text: str) -> set[str]:
    """Capitalised words past the first of each sentence, and acronyms anywhere, lower-cased."""
    names: set[str] = set()
    for sentence in re.split(r"(?<=[.!?:;])\s+|\n", text):
        for i, match in enumerate(_WORD.finditer(sentence)):
            word = match.group(0)
            if (i > 0 and word[0].isupper()) or (len(word) > 1 and word.isupper()):
                names.add(word.lower().strip("'’-"))
    return names


@dataclass(frozen=True)
class Support:
    supported: bool
    missing: tuple[str, ...] = ()  # the claim's numbers, names or share of content words the quote lacks

    def why(self) -> str:
        return "supported" if self.supported else "quote lacks " + ", ".join(self.missing)


def support(claim: str, quote: str) -> Support:
    claim, quote = plain(claim), plain(quote)
    missing = sorted(numbers_in(claim) - numbers_in(quote))
    quote_words = {w.group(0).lower().strip("'’-") for w in _WORD.finditer(quote)}
    missing += sorted(n for n in names_in(claim) if n not in quote_words)
    tokenizer = default_tokenizer()
    terms = set(tokenizer(claim))
    if terms:
        share = len(terms & set(tokenizer(quote))) / len(terms)
        if share < CONTENT_SHARE:
            missing.append(f"content words ({share:.0%} of them in the quote)")
    return Support(supported=not missing, missing=tuple(missing))
