"""Answer-first extractive answers: the passages' own sentences, the one that answers first.

No model, a few milliseconds. The passages are cut into units: a table row (one line of the
parsed text, `Title — Row header; Column: value; ...`, see ingestion.tables) or a sentence of
a line of prose (no sentence runs across a line; "Mr. J. Smith" and "Ste. 305" end none;
"[…]" separates excerpts). Each unit is scored by how well it matches the question: the
idf-weighted share of the question's terms it holds (idf over all the units of the passages;
"how many", "what" and a possessive "s" are no terms; in a follow-up the earlier question's
terms count half, its numbers not at all when the new question names its own), plus a quarter
of the weight of each pair of adjacent question terms it holds together ("family day"), less
for a long unit (which holds more terms by chance) or a bare heading. Then:

- a unit that follows a matched one in the same excerpt inherits part of its match (the answer
  often is the sentence after the one worded like the question: "Get excited for family day!"
  then "There will be face painting, ...");
- the line above a form label ("(Address of principal executive offices)") inherits the label's
  match, and the label itself, which answers nothing, keeps little of its own;
- the question's kind (a number for "how many/much/long", a date or year for "when", a place
  for "where", a person or e-mail address for "who", a reason for "why", a list for "which
  activities are ...") raises the units that hold one the question does not;
- a table row whose row header AND a column's own name both match the question is raised.

The best unit leads; at most two more follow, each matching the question by its own words at
least half as well as the lead (an inherited match is no support), adding two terms the answer
does not have yet, and coming from the lead's document or from one that holds as much of the
question (never an unrelated document). Every choice is a `Settings` field, so it can be
switched off and measured on the question sets (bench: evaluate_answers).

`prefer` is the hook for candidate preferences that know more about the question (the
constraints of chat.answerability, e.g. `unmet(constraints, text)`): a function of the question
returning a function that scores a unit's text (1.0 neutral, above 1 preferred); it replaces the
built-in answer-kind preference.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from chat.claims import abbreviated, pieces
from chat.markers import neutralise
from ingestion.tables import COLUMN_SEPARATOR, LEVEL_SEPARATOR, RAW_CELL_SEPARATOR, TITLE_SEPARATOR
from ingestion.tokenize import default_tokenizer
from retrieval.types import ScoredChunk

EXCERPT_SEPARATOR_TEXT = "[…]"
# A sentence of prose ends at . ! ? followed by white space, unless the full stop ends an abbreviation
# or an initial (chat.claims.abbreviated, which also decides where an answer's claims end).
_SENTENCE_END = re.compile(r"[.!?]+[\"')\]]*(?=\s+)")
_PARENTHESISED = re.compile(r"^\(.*\)$")

LONG_UNIT_TERMS = 25
# The words that say what kind of answer is asked, not what it is about ("How many", "how long").
_QUESTION_WORDS = re.compile(r"\bhow (?:many|much|long|tall|old|far|big|large|high|quickly|often)\b|\b(?:what|which|who|whom|whose|when|where|why|how)\b", re.I)

Scorer = Callable[[str], float]
Preference = Callable[[str], Scorer]


@dataclass(frozen=True)
class Settings:
    """The choices of the selection, each one that can be switched off (measured in bench)."""

    neighbour_after: float = 0.8  # share of a unit's match the next unit inherits (0: off)
    label_above: float = 1.0  # share of a form label's match the line above inherits (0: off)
    label_penalty: float = 0.3  # a form label's own score is multiplied by this
    kind_bonus: float = 0.5  # a unit holding the answer kind the question asks for: x (1 + bonus)
    row_bonus: float = 0.5  # a table row whose row header and a column name match: x (1 + bonus)
    passage_decay: float = 0.15  # score / (1 + decay * (passage number - 1))
    support: int = 2  # supporting units after the lead
    support_ratio: float = 0.3  # a supporting unit scores at least this share of the lead's
    support_match: float = 0.5  # a supporting unit's own match (not inherited) is at least this share of the lead's
    related_ratio: float = 0.6  # a supporting unit's passage matched at least this share of the lead's
    min_new_terms: int = 2  # a supporting unit adds at least this many terms the answer has not
    phrase_weight: float = 0.25  # a unit holding two adjacent question terms together gains this share of their weight
    length_norm: float = 0.5  # match / (1 + norm * max(0, terms / LONG_UNIT_TERMS - 1)): long units hold
    # more of the question's terms by chance
    drop_question_words: bool = True  # "how many", "what", possessive "s" are no content terms


DEFAULT = Settings()


@dataclass
class Unit:
    """A candidate: one verbatim piece of passage `n`'s text."""

    n: int
    excerpt: int
    line: int
    position: int  # order among its passage's units
    text: str
    terms: set[str]
    tokens: list[str] = field(default_factory=list)
    row: bool = False
    label: bool = False
    row_header: set[str] = field(default_factory=set)
    columns: list[set[str]] = field(default_factory=list)
    coverage: float = 0.0  # the share of the question's term weight it holds
    match: float = 0.0
    score: float = 0.0


@dataclass(frozen=True)
class Choice:
    n: int
    text: str


# -- the question's kind ---------------------------------------------------------------------------

_MONTHS = "january|february|march|april|may|june|july|august|september|october|november|december"
_MONTH = re.compile(rf"\b(?:{_MONTHS}|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec)\b\.?", re.I)
_YEAR = re.compile(r"\b(?:1[5-9]|20)\d\d\b")
_DATE = re.compile(r"\b\d{1,4}[/.-]\d{1,2}[/.-]\d{1,4}\b|\b\d{1,2}(?:st|nd|rd|th)\b", re.I)
_NUMBER = re.compile(r"(?<![\w.])[-+−(]?[$€£¥]?\d[\d,.']*%?")
_NUMBER_WORDS = re.compile(
    r"\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|forty|fifty|"
    r"hundred|thousand|million|billion|dozen|half|none|zero|several|single|double)\b", re.I)
_REASON = re.compile(r"\b(?:because|due to|owing to|as a result|in order to|so that|since|thanks to|caused by)\b", re.I)
# A list: at least two short items followed by commas, then "and"/"or" ("face painting, a petting zoo,
# funnel cake and more"), or a bulleted line.
_LIST = re.compile(r"(?:\b[\w'’-]+(?:\s+[\w'’-]+){0,3},\s+){2,}(?:[\w'’-]+\s+){0,3}?(?:and|or)\s+\w"
                   r"|^\s*(?:[•●▪‣◦*-]|\d+[.)])\s")
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+\.[\w.-]+\b")
_PERSON = re.compile(r"\b[A-Z][a-z]+(?:\s+[A-Z]\.)?\s+[A-Z][a-z][a-zA-Z'’-]+\b")
_ADDRESS = re.compile(r"\b\d+\s+[A-Z][a-z]+\s+(?:Street|Avenue|Road|Boulevard|Drive|Lane|Way|Place|Square)\b"
                      r"|\b[A-Z]{2}\s+\d{5}\b|\b(?:[Ss]treet|[Aa]venue|[Rr]oad|[Ss]uite|Ste\.|[Ff]loor|[Cc]ounty)\b")
_PLACE_PREPOSITION = re.compile(r"\b(?:in|at|from|near|based in|located in)\s+(?:the\s+)?[A-Z][a-zA-Z-]+")


def question_kind(question: str) -> str:
    """`number`, `date`, `place`, `person`, `reason`, `list` or '' (any) for what the question asks."""
    q = " ".join(question.lower().split())
    if re.search(r"\bhow (?:many|much|long|tall|old|far|big|large|high|quickly|often)\b"
                 r"|\bwhat (?:percentage|proportion|number|share|amount)\b|\b(?:phone|telephone|fax) number\b|\bnumber of\b"
                 r"|\bwhat (?:is|was|were|are) the (?:\w+ )?(?:value|price|cost|amount|total|rate|size|count)\b", q):
        return "number"
    if re.search(r"\bwhen\b|\b(?:what|which) (?:year|date|day|month|time|period|fiscal year)\b|\bsince when\b", q):
        return "date"
    if re.search(r"\bwhere\b|\b(?:what|which|in which) (?:city|country|state|town|place|region|location|address)\b", q):
        return "place"
    if re.search(r"\bwho(?:m|se)?\b", q):
        return "person"
    if re.search(r"\bwhy\b", q):
        return "reason"
    if re.search(r"\b(?:what|which) (?:\w+ )?\w+s (?:are|were|is|does|do|did|has|have|will|should|can)\b|\blist\b", q):
        return "list"
    return ""


def _new(pattern: re.Pattern[str], text: str, question: str) -> bool:
    asked = {m.group(0).lower() for m in pattern.finditer(question)}
    return any(m.group(0).lower() not in asked for m in pattern.finditer(text))


def holds_kind(kind: str, text: str, question: str) -> bool:
    """Whether `text` holds something of `kind` that the question itself does not."""
    if kind == "number":
        return _new(_NUMBER, text, question) or _new(_NUMBER_WORDS, text, question)
    if kind == "date":
        return _new(_YEAR, text, question) or _new(_MONTH, text, question) or _new(_DATE, text, question)
    if kind == "place":
        return _new(_ADDRESS, text, question) or _new(_PLACE_PREPOSITION, text, question)
    if kind == "reason":
        return _new(_REASON, text, question)
    if kind == "list":
        return bool(_LIST.search(text))
    if kind == "person":
        return _new(_PERSON, text, question) or _new(_EMAIL, text, question)
    return False


# -- units -------------------------------------------------------------------------------------------


def _sentences(line: str) -> list[str]:
    """The sentences of one line of prose, verbatim, abbreviations and initials not ending one."""
    found: list[str] = []
    start = 0
    for match in _SENTENCE_END.finditer(line):
        if abbreviated(line, match.start()):
            continue
        piece = line[start : match.end()].strip()
        if piece:
            found.append(piece)
        start = match.end()
    rest = line[start:].strip()
    if rest:
        found.append(rest)
    return found


def _row_parts(line: str) -> tuple[str, list[tuple[str, str]]] | None:
    """(title, [(column, value), ...]) of a table row line, or None for prose."""
    body = line.rsplit(TITLE_SEPARATOR, 1)
    title, cells_text = (body[0], body[1]) if len(body) == 2 else ("", body[0])
    if RAW_CELL_SEPARATOR in cells_text and COLUMN_SEPARATOR not in cells_text:
        return title, [("", c.strip()) for c in cells_text.split(RAW_CELL_SEPARATOR.strip())]
    cells = cells_text.split(COLUMN_SEPARATOR)
    named = [c.split(": ", 1) for c in cells]
    if len(cells) < 2 or sum(len(c) == 2 for c in named) < max(1, len(cells) - 1):
        return None
    return title, [(c[0], c[1]) if len(c) == 2 else ("", c[0]) for c in named]


def units_of(passages: Sequence[ScoredChunk]) -> list[Unit]:
    tokenize = default_tokenizer()
    units: list[Unit] = []
    for n, passage in enumerate(passages, start=1):
        position = 0
        excerpt = 0
        for number, raw in enumerate(passage.text.split("\n")):
            line = raw.strip()
            if line == EXCERPT_SEPARATOR_TEXT:
                excerpt += 1
                continue
            if not re.search(r"\w", line):
                continue
            parts = _row_parts(line)
            if parts is not None:
                title, cells = parts
                header = cells[0][1] if cells else ""
                label = all(_PARENTHESISED.match(v) for _, v in cells if v)
                tokens = tokenize(line)
                units.append(Unit(n=n, excerpt=excerpt, line=number, position=position, text=line,
                                  terms=set(tokens), tokens=tokens, row=True, label=label,
                                  row_header=set(tokenize(header)),
                                  # a column's own name, not the group label above it ("January–June 2023 / Sales")
                                  columns=[set(tokenize(c.rsplit(LEVEL_SEPARATOR, 1)[-1])) for c, _ in cells[1:] if c]))
                position += 1
                continue
            for sentence in _sentences(line):
                tokens = tokenize(sentence)
                units.append(Unit(n=n, excerpt=excerpt, line=number, position=position, text=sentence,
                                  terms=set(tokens), tokens=tokens, label=bool(_PARENTHESISED.match(line))))
                position += 1
    return units


# -- selection ---------------------------------------------------------------------------------------


def query_weights(question: str, context: str, units: Sequence[Unit], *,
                  drop_question_words: bool = True) -> dict[str, float]:
    """idf weight of each question term over the units; a term only in `context` (the earlier
    question of a follow-up) counts half, and not at all for a number or year when the question
    names one of its own (the follow-up changes it: "And in 2022?")."""
    tokenize = default_tokenizer()
    if drop_question_words:
        question, context = _QUESTION_WORDS.sub(" ", question), _QUESTION_WORDS.sub(" ", context)
    asked = {t for t in tokenize(question) if len(t) > 1 or t.isdigit()}
    earlier = {t for t in tokenize(context) if len(t) > 1 or t.isdigit()} - asked
    if any(t.isdigit() for t in asked):
        earlier = {t for t in earlier if not t.isdigit()}
    total = max(1, len(units))
    weights: dict[str, float] = {}
    for term in asked | earlier:
        frequency = sum(term in u.terms for u in units)
        if frequency:
            weights[term] = math.log(1 + total / frequency) * (1.0 if term in asked else 0.5)
    return weights


def select(question: str, passages: Sequence[ScoredChunk], *, context: str = "", settings: Settings = DEFAULT,
           prefer: Preference | None = None) -> list[Choice]:
    """The lead unit and at most `settings.support` supporting ones, in answer order."""
    units = units_of(passages)
    weights = query_weights(question, context, units, drop_question_words=settings.drop_question_words)
    whole = math.fsum(weights.values())  # fsum: the same total in any set order
    if not whole:
        return []
    score_text = (prefer or _kind_preference(settings))(question)
    pairs = _question_pairs(question, weights) if settings.phrase_weight else {}
    for u in units:
        u.coverage = u.match = math.fsum(weights.get(t, 0.0) for t in u.terms) / whole
        if pairs:
            held = {p for p in zip(u.tokens, u.tokens[1:]) if p in pairs}
            u.match += settings.phrase_weight * math.fsum(pairs[p] for p in held) / whole
        if len(u.terms) < 4 and not u.row:
            u.match *= 0.6  # a bare heading or label
        if settings.length_norm and not u.row:
            u.match /= 1 + settings.length_norm * max(0.0, len(u.terms) / LONG_UNIT_TERMS - 1)
    for i, u in enumerate(units):
        own = u.match * (settings.label_penalty if u.label and settings.label_above else 1.0)
        inherited = 0.0
        previous = units[i - 1] if i > 0 else None
        if settings.neighbour_after and previous is not None and previous.n == u.n and previous.excerpt == u.excerpt:
            inherited = settings.neighbour_after * previous.match
        if settings.label_above and not u.label:
            below = _next_line_unit(units, i)
            if below is not None and below.label:
                inherited = max(inherited, settings.label_above * below.match)
        score = max(own, inherited)
        if u.row and settings.row_bonus and weights:
            asked = set(weights)
            if u.row_header & asked and any(c & asked for c in u.columns):
                score *= 1 + settings.row_bonus
        u.score = score * score_text(u.text) / (1 + settings.passage_decay * (u.n - 1))
    ranked = sorted((u for u in units if u.score > 0), key=lambda u: (-u.score, u.n, u.position))
    if not ranked:
        return []
    lead = ranked[0]
    # How well each passage's best unit matches the question: the share of its terms, and all things counted.
    best_match: dict[int, float] = {}
    best_score: dict[int, float] = {}
    for u in units:
        best_match[u.n] = max(best_match.get(u.n, 0.0), u.coverage)
        best_score[u.n] = max(best_score.get(u.n, 0.0), u.score)
    chosen = [lead]
    covered = set(lead.terms) | set(weights)
    for u in ranked[1:]:
        if len(chosen) > settings.support:
            break
        if u.score < settings.support_ratio * lead.score:
            break
        if u.match < settings.support_match * lead.match:
            continue
        if u.n != lead.n and (best_match[u.n] < settings.related_ratio * best_match[lead.n]
                              or best_score[u.n] < settings.related_ratio * lead.score):
            continue
        if u.text == lead.text or any(u.text == c.text for c in chosen):
            continue
        if len(u.terms - covered) < settings.min_new_terms:
            continue
        chosen.append(u)
        covered |= u.terms
    supporting = sorted(chosen[1:], key=lambda u: (u.n, u.position))
    return [Choice(n=u.n, text=u.text) for u in [lead, *supporting]]


def _question_pairs(question: str, weights: dict[str, float]) -> dict[tuple[str, str], float]:
    """The question's adjacent pairs of weighted terms ("family day"), each with its weight."""
    tokens = [t for t in default_tokenizer()(question) if t in weights]
    return {(a, b): weights[a] + weights[b] for a, b in zip(tokens, tokens[1:]) if a != b}


def _next_line_unit(units: Sequence[Unit], i: int) -> Unit | None:
    """The first unit of the next line holding one (same excerpt), when unit i ends its line."""
    if i + 1 >= len(units):
        return None
    u, below = units[i], units[i + 1]
    if below.n != u.n or below.excerpt != u.excerpt or below.line == u.line:
        return None
    return below


def _kind_preference(settings: Settings) -> Preference:
    def prefer(question: str) -> Scorer:
        kind = question_kind(question)
        if not kind or not settings.kind_bonus:
            return lambda text: 1.0
        return lambda text: 1.0 + settings.kind_bonus * holds_kind(kind, text, question)

    return prefer


# -- the answer's text -------------------------------------------------------------------------------


def cited(choices: Sequence[Choice]) -> Iterator[str]:
    """The answer's text pieces: each claim of a chosen unit, made plain text (a document's own
    "[7]" is no citation), followed by its passage's marker before its final punctuation:
    "... body [n]." A unit that holds several claims ("Mr. Cravens", which chat.claims splits)
    cites each one; a unit without final punctuation (a table row, a form's line) ends its line,
    so that the next unit is a claim of its own."""
    separator = ""
    for choice in choices:
        for piece in pieces(choice.text):
            piece = piece.strip()
            if not piece:
                continue
            body, end = (piece[:-1], piece[-1]) if piece[-1] in ".!?" else (piece, "")
            # Spaces before that punctuation stay after the marker ("previously [17] ." in the
            # document), so taking the marker out gives the document's sentence back.
            gap = body[len(body.rstrip()):]
            yield f"{separator}{neutralise(body.rstrip())} [{choice.n}]{gap}{end}"
            separator = " " if end else "\n"
