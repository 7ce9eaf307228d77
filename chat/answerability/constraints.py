"""Reading a question's constraints (`constraints_of`): the years, periods, months, seasons,
numbers and bounds, names, content terms, the kind of answer and the measure it asks for."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from chat.answerability.words import (
    ADVERBS,
    AUXILIARIES,
    CODE,
    COPULAS,
    CURRENCIES,
    DETERMINERS,
    GENERIC_TERMS,
    LESS,
    MEASURES,
    MONEY_ASK,
    MONTHS,
    MORE,
    NAME_CONNECTORS,
    NUMBER,
    NUMBER_WORDS,
    PERIODS,
    PREPOSITIONS,
    QUESTION_WORDS,
    SHORT_YEAR,
    WEEKDAYS,
    WORD,
    YEAR,
    fold,
    is_soft,
    stem_of,
    stems_of,
)


@dataclass(frozen=True)
class Constraint:
    """One thing the answering sentence or row must hold."""

    kind: str  # year | period | month | number | entity | term | answer
    value: str  # as the question names it ("2021", "full year", "Zone NA", "fax", "quantity")
    scope: str = "candidate"  # candidate: the sentence or row; near: its neighbourhood; document: its passage
    soft: bool = False  # a term the answer need not repeat: a verb, or the noun the question asks for

    def label(self) -> str:
        return f"{self.kind} {self.value!r}"


def _years(question: str) -> list[str]:
    years = [m.group(1) for m in YEAR.finditer(question)]
    for m in SHORT_YEAR.finditer(question):
        short = m.group(1) or m.group(2)
        years.append(("19" if int(short) > 50 else "20") + short)
    return list(dict.fromkeys(years))


def _numbers(question: str, years: Iterable[str]) -> list[str]:
    found = []
    masked = SHORT_YEAR.sub(" ", question)
    for code in _codes(question):
        masked = masked.replace(code, " ")
    for m in NUMBER.finditer(masked):
        value = m.group(0).lstrip("+").replace(",", "")
        if value not in years:
            found.append(value)
    return list(dict.fromkeys(found))


def _codes(question: str) -> list[str]:
    """Codes: words of letters and digits ("SNB21-1", "COVID-19", "H7N9"), not years or periods."""
    found = []
    for m in CODE.finditer(question):
        code = m.group(0)
        if not re.fullmatch(r"(?:FY|H[12]|Q[1-4])\d*|\d+(?:st|nd|rd|th|s)", code, re.IGNORECASE):
            found.append(code)
    return found


def _topic_position(words: list[re.Match[str]], start: int) -> bool:
    """Whether the name starting at word `start` stands where a question names its topic rather
    than what it asks for: after a preposition ("symptoms of COVID-19", "in the Blackboard
    template"), as the subject of its verb ("did Galaxy Gaming add"), or right after the copula
    ("where is Q130"; but "what is the Brinell hardness" asks for the hardness)."""
    before = [w.group(0).lower() for w in words[max(0, start - 2) : start]]
    if not before:
        return False
    last = before[-1]
    if last in PREPOSITIONS or last in AUXILIARIES or last in COPULAS:
        return True
    return last in DETERMINERS and len(before) > 1 and (before[0] in PREPOSITIONS or before[0] in AUXILIARIES)


def _entities(question: str) -> list[tuple[str, bool]]:
    """(name, owner) for proper nouns (runs of capitalised words, the question's own first word
    aside), acronyms and codes; `owner`: named as the owner of what is asked ("Galaxy Gaming's")."""
    codes = _codes(question)
    masked = question
    for code in codes:
        masked = masked.replace(code, " , ")
    words = list(WORD.finditer(masked))
    found: list[tuple[str, bool]] = []
    for code in codes:
        before = list(WORD.finditer(question[: question.find(code)]))
        found.append((code, _topic_position(before, len(before))))
    run: list[str] = []
    start = 0

    def close(owner: bool) -> None:
        if run:
            found.append((" ".join(run), owner))
            run.clear()

    for i, m in enumerate(words):
        raw = m.group(0)
        word = re.sub(r"['\u2019]s$", "", raw)
        gap = masked[words[i - 1].end() : m.start()] if i else ""
        if run and gap.strip():  # punctuation ends a name
            close(_topic_position(words, start))
        capitalised = word[:1].isupper() or any(c.isupper() for c in word[1:])
        if not run:
            start = i
        if (capitalised and not (i == 0 and word.lower() in QUESTION_WORDS | GENERIC_TERMS)
                and word.lower() not in QUESTION_WORDS and not word.isdigit()
                and word.lower() not in MONTHS + WEEKDAYS and not re.fullmatch(r"(?:FY|H[12]|Q[1-4])", word)):
            run.append(word)
            if raw.endswith(("'s", "\u2019s")) or masked[m.end() : m.end() + 1] in ("'", "\u2019"):
                close(True)
            continue
        following = words[i + 1].group(0) if i + 1 < len(words) else ""
        if (run and word.lower() in NAME_CONNECTORS and following[:1].isupper() and not gap.strip()
                and not masked[m.end() : words[i + 1].start()].strip()):
            run.append(word)  # "Hall of Fame", "Bank of America": one name
            continue
        if run and run[-1].lower() in NAME_CONNECTORS:
            run.pop()
        close(_topic_position(words, start))
    close(_topic_position(words, start))
    result: dict[str, bool] = {}
    for name, owner in found:
        result[name] = result.get(name, False) or owner
    return list(result.items())


def _answer_kind(question: str) -> str | None:
    q = fold(question)
    if re.search(r"\b(?:phone|telephone|fax|mobile|cell|contact)(?: number)?\b", q) and re.search(r"\bnumber\b|\bphone\b", q):
        return "phone"
    if re.search(r"\b(?:which|what|at which|in which) (?:venue|hotel|building|room|address|street|hall|stadium|arena)\b", q):
        return "venue"
    if MONEY_ASK.search(question):
        return "money"
    if _measure(question) is not None and re.match(r"^(?:what|which)\b", q):
        return "quantity"
    if re.search(r"\bhow (?:many|much|long|often|far|old|tall|big|large|high|heavy|fast)\b|\bwhat (?:percentage|share|"
                 r"proportion|number|amount|fraction)\b", q):
        return "quantity"
    if re.search(r"\b(?:what|which) year\b", q):
        return "year"
    if re.search(r"^when\b|\bwhen (?:is|was|were|did|does|do|will|would|can|could|should)\b|\b(?:what|which) (?:date|"
                 r"day|year|month|time)\b|\bon what date\b|\bby when\b|\bsince when\b", q):
        return "date"
    if re.search(r"^where\b|\bwhere (?:is|was|are|were|did|does|do|will|would|can|should)\b|\bin which (?:city|country|"
                 r"state|town|place|region)\b|\bat which (?:venue|place|location|address)\b|\bwhat venue\b", q):
        return "place"
    if re.search(r"^(?:who|whom)\b|\b(?:who|whom) (?:is|was|are|were|did|does|do|will|can|should)\b", q):
        return "person"
    return None


def _measure(question: str) -> str | None:
    """The noun of the measure a what-question asks for ("revenue", "density"), if any; not the
    first word of a compound that names something else ("the budget code", "the sales team"),
    but itself before a generic word ("the MTU value")."""
    words = [fold(m.group(0)) for m in WORD.finditer(question)]
    for i, word in enumerate(words):
        if word not in MEASURES:
            continue
        after = words[i + 1] if i + 1 < len(words) else ""
        if after and after not in _FUNCTION_WORDS and after not in GENERIC_TERMS and not after.isdigit():
            continue  # the compound's last noun is asked for: a code in "budget code", density in "population density"
        return word
    return None


_FUNCTION_WORDS = PREPOSITIONS | AUXILIARIES | COPULAS | DETERMINERS | QUESTION_WORDS | frozenset(
    "and or than as per if when while since during after before".split())


def _counted(question: str) -> str | None:
    """The noun a how-many question counts ("how many full-time employees" -> "employees"): the last
    word of the run after "how many", unless it is a name (entities are checked as such)."""
    m = re.search(r"\bhow many\s+((?:[\w'-]+\s+){0,3}?[\w'-]+)(?=\s+(?:" + "|".join(
        sorted(AUXILIARIES | COPULAS | PREPOSITIONS | {"there", "have", "has", "were", "are", "did"}))
        + r")\b|\s*[?,.]|$)", question, re.IGNORECASE)
    if m is None:
        return None
    noun = m.group(1).split()[-1].split("-")[-1]
    return None if noun[:1].isupper() or fold(noun) in GENERIC_TERMS else fold(noun)


def _measured(question: str, measure: str) -> str | None:
    """What a measure is of ("the price of oranges" -> "oranges"): the last word before the next
    preposition or the end, unless it is a name (entities are checked as such)."""
    m = re.search(rf"\b{re.escape(measure)}\s+of\s+(?:the\s+|a\s+|an\s+)?((?:[\w'-]+\s+){{0,3}}?[\w'-]+)"
                  r"(?=\s+(?:" + "|".join(sorted(PREPOSITIONS | AUXILIARIES | COPULAS)) + r")\b|\s*[?,.]|$)",
                  question, re.IGNORECASE)
    if m is None:  # "how much did the delivered laptops cost": what costs stands before the verb
        m = re.search(rf"\bhow much (?:do|does|did|will|would)\s+(?:the\s+|a\s+|an\s+)?((?:[\w'-]+\s+){{0,3}}?[\w'-]+)"
                      rf"\s+{re.escape(measure)}\b", question, re.IGNORECASE)
    if m is None:
        return None
    words = m.group(1).split()
    word = words[-1]
    return None if any(w[:1].isupper() for w in words) or any(ch.isdigit() for ch in word) or fold(word) in GENERIC_TERMS else fold(word)


def _content_terms(question: str, taken: Iterable[str]) -> list[tuple[str, bool]]:
    """(word, soft) for the question's content words that are not part of an entity, year or
    number; soft: a verb, participle or adverb, the noun a which/what asks for ("which
    broadcasters": the answer names one) or the adjective of a how ("how bad")."""
    taken_stems: set[str] = set()
    for phrase in taken:
        taken_stems |= stems_of(phrase)
    words = [fold(re.sub(r"['\u2019]s$", "", m.group(0))) for m in WORD.finditer(question)]
    terms: dict[str, bool] = {}
    seen: set[str] = set()
    for i, word in enumerate(words):
        if (word in QUESTION_WORDS or word in GENERIC_TERMS or word in ADVERBS or word in PREPOSITIONS or len(word) < 3
                or any(ch.isdigit() for ch in word) or word in NUMBER_WORDS or word in MONTHS):
            continue
        stem = stem_of(word)
        if stem in taken_stems or stem in seen:
            continue
        seen.add(stem)
        asked = i > 0 and words[i - 1] in ("which", "what", "how", "whose")
        terms[word] = asked or is_soft(word)
    return list(terms.items())


def constraints_of(question: str, previous: str = "") -> list[Constraint]:
    """The constraints `question` puts on its answer. `previous`: the question a follow-up follows;
    each kind of constraint the follow-up does not name itself is taken from it ("And in 2022?"
    keeps the measure and entity of the question before, with the new year)."""
    found = _constraints(question)
    if previous:
        kinds = {c.kind for c in found}
        # A new period or year replaces the old one; a new entity, the old entities.
        if kinds & {"year", "period", "month"}:
            kinds |= {"year", "period", "month"}
        found += [c for c in _constraints(previous) if c.kind not in kinds and c.kind != "term"]
    return found


def _constraints(question: str) -> list[Constraint]:
    years = _years(question)
    constraints = [Constraint("year", y) for y in years]
    constraints += [Constraint("period", name) for name, (ask, _) in PERIODS.items() if ask.search(question)]
    months = [m for m in MONTHS if re.search(rf"\b{m}\b", question, re.IGNORECASE)]
    if not re.search(r"\b(?:january|april|july|october)\s*(?:[-\u2013]|to)\s*(?:june|december|march|september)\b",
                     question, re.IGNORECASE):
        constraints += [Constraint("month", m.capitalize()) for m in months if m != "may" or re.search(r"\bMay\b", question)]
    constraints += [Constraint("number", n) for n in _numbers(question, years)]
    constraints += [Constraint("comparison", f"{word} {n}") for word, n in _comparisons(question)]
    constraints += [Constraint("season", (m.group(1) or m.group(2)).lower())
                    for m in _SEASON_ASK.finditer(question)]
    entities = _entities(question)
    constraints += [Constraint("entity", e, scope="document" if owner else "near") for e, owner in entities]
    plain = question  # the words of a period ("full year", "first half") are no content terms
    for ask, _ in [*PERIODS.values(), *CURRENCIES.values()]:  # nor the name of a currency ("in euros")
        plain = ask.sub(" ", plain)
    constraints += [Constraint("term", t, scope="near", soft=soft) for t, soft in
                    _content_terms(plain, [e for e, _ in entities])]
    constraints += [Constraint("rate", unit) for unit in _rates(question)]
    constraints += [Constraint("currency", name) for name in _currencies(question)]
    kind = _answer_kind(question)
    if kind:
        constraints.append(Constraint("answer", kind))
    # The number must come with what it counts or measures: the sentence or row that holds it names it.
    noun = _counted(question) if re.search(r"\bhow many\b", question, re.IGNORECASE) else (
        _measure(question) if kind in ("quantity", "money") else None)
    if noun is not None:
        constraints.append(Constraint("measure", noun))
        thing = _measured(question, noun)
        if thing is not None:
            constraints.append(Constraint("object", thing, scope="near"))
    return constraints


# A season the question names as a time ("last spring", "the summer campaign"); "fall" only after a
# word that makes it one.
_SEASON_ASK = re.compile(r"\b(spring|summer|autumn|winter)\b|\b(?:last|this|next|the|in)\s+(fall)\b", re.IGNORECASE)


def _comparisons(question: str) -> list[tuple[str, str]]:
    """("fewer than", "19")-like bounds on a number of the question."""
    found = []
    for direction in (LESS, MORE):
        for m in re.finditer(rf"\b({direction})(?:\s+than)?\s+(\d[\d,]*(?:\.\d+)?)\b", question, re.IGNORECASE):
            found.append(("fewer than" if direction == LESS else "more than", m.group(2).replace(",", "")))
    return found


_RATE_ASK = re.compile(r"\b(?:per|a|an|each|every)\s+(day|week|month|year|hour|minute|second|annum)\b"
                       r"|\b(daily|weekly|monthly|yearly|annually|hourly)\b", re.IGNORECASE)
_RATE_ADVERBS = {"daily": "day", "weekly": "week", "monthly": "month", "yearly": "year", "annually": "year",
                 "hourly": "hour"}


def _rates(question: str) -> list[str]:
    """The time unit of a rate the question asks for ("per day", "a year", "annually"): the answer
    must be a rate of that unit, not any number near the topic."""
    units = []
    for m in _RATE_ASK.finditer(question):
        unit = (m.group(1) or _RATE_ADVERBS[m.group(2).lower()]).lower()
        units.append("year" if unit == "annum" else unit)
    return list(dict.fromkeys(units))


def _currencies(question: str) -> list[str]:
    """The currencies the question names ("in euros", "in US dollars", "CHF")."""
    return [name for name, (ask, _) in CURRENCIES.items() if ask.search(question)]
