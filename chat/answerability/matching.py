"""Whether a text meets a question's constraints: years (and ranges and FY forms), numbers, names
(with their aliases and typing errors), the kind of answer, a table row's cells."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from chat.answerability.candidates import row_heads
from chat.answerability.constraints import Constraint
from chat.answerability.words import (
    CURRENCIES,
    DATE,
    LESS,
    MONTH_NAMES,
    MONTHS,
    MORE,
    NAME_CONNECTORS,
    NUMBER,
    NUMBER_WORDS,
    PERIODS,
    PLACE,
    QUESTION_WORDS,
    SHORT_YEAR,
    WEEKDAYS,
    WORD,
    YEAR,
    YEAR_RANGE,
    fold,
    is_row,
    measure_names,
    stem_of,
    stems_of,
    within_edits,
    word_stems,
)
from ingestion.tables import TITLE_SEPARATOR


def _year_in(year: str, text: str) -> bool:
    if re.search(rf"(?<![\d.,]){year}(?![\d])", text):
        return True
    short = year[2:]
    if re.search(rf"\b(?:FY|H[12]|Q[1-4])\s?'?{short}\b|['\u2019]{short}\b|\bsince {short}\b", text, re.IGNORECASE):
        return True
    for m in YEAR_RANGE.finditer(text):
        start, end = int(m.group(1)), m.group(2)
        stop = int(end) if len(end) == 4 else int(m.group(1)[:2] + end)
        if start < int(year) < stop:
            return True
    return False


def _number_in(number: str, text: str) -> bool:
    plain = text.replace(",", "")
    if re.search(rf"(?<![\d.]){re.escape(number)}(?![\d]|\.\d)", plain):
        return True
    words = [w for w, v in NUMBER_WORDS.items() if str(v) == number]
    return any(re.search(rf"\b{w}\b", text, re.IGNORECASE) for w in words)


# Names that stand for one another: a question rarely spells a name as the document does
# ("COVID19" / "2019-nCoV", "USA" / "United States"). Each group is one thing; a name of a group is
# met by any of its names. Folded (lower case, no accents), compared as whole words.
ALIASES: tuple[frozenset[str], ...] = tuple(frozenset(group) for group in (
    {"covid-19", "covid19", "covid", "2019-ncov", "ncov", "sars-cov-2", "sars cov 2", "novel coronavirus",
     "coronavirus disease 2019", "2019 novel coronavirus", "wuhan coronavirus"},
    {"usa", "us", "u.s.", "u.s.a.", "united states", "united states of america", "america"},
    {"uk", "u.k.", "united kingdom", "great britain", "britain"},
    {"eu", "european union"},
    {"uae", "united arab emirates"},
    {"who", "world health organization", "world health organisation"},
    {"cdc", "centers for disease control", "centers for disease control and prevention"},
    {"spanish influenza", "spanish flu", "1918 influenza", "1918 flu", "1918 pandemic"},
    {"swine flu", "swine influenza", "h1n1"},
    {"bird flu", "avian influenza", "avian flu"},
    {"mers", "mers-cov", "middle east respiratory syndrome"},
    {"sars", "sars-cov", "severe acute respiratory syndrome"},
))


def _aliases(entity: str) -> list[str]:
    """The other names of `entity` (ALIASES), not itself."""
    folded = fold(entity)
    return sorted(name for group in ALIASES if folded in group for name in group if name != folded)


def entity_in(entity: str, text: str) -> bool:
    """`entity` or one of its other names (ALIASES) in `text`."""
    if _entity_spelled_in(entity, text):
        return True
    folded = fold(text)
    return any(re.search(rf"(?<![a-z0-9]){re.escape(name)}(?![a-z0-9])", folded) for name in _aliases(entity))


@lru_cache(maxsize=4096)
def _entity_spelled_in(entity: str, text: str) -> bool:
    """`entity` in `text`: each of its words (of three or more, all but a generic one) as a word, a stem or
    a word an edit away (typing errors); or written without its spaces and hyphens ("COVID19" for
    "COVID-19"); or, an acronym, as the initials of capitalised words ("US": "United States")."""
    folded = fold(text)
    compact = re.sub(r"[^a-z0-9]", "", fold(entity))
    if any(ch.isdigit() for ch in entity):  # a code: exactly, hyphens and spaces aside ("COVID19")
        return re.search(rf"(?<![a-z0-9]){re.escape(compact)}(?![a-z0-9])", folded.replace("-", "")) is not None
    words = [w for w in re.split(r"[\s-]+", entity) if w and w.lower() not in NAME_CONNECTORS]
    vocabulary = set(WORD.findall(folded))
    stems = stems_of(text)
    missing = [w for w in words if not _word_in(w, vocabulary, stems)]
    # A long name may miss one word, if it is a word many names share ("Galaxy Gaming" for "Galaxy
    # Gaming Inc"; but "Norwich City Hall of Fame" is no "Leicester City Hall of Fame").
    if not missing or (len(words) >= 3 and len(missing) == 1 and stem_of(missing[0]) in _generic_name_stems()):
        found = [w for w in words if w not in missing]
        if len(found) < 2 or _together(found, folded):
            return True
    if len(compact) >= 4 and compact in re.sub(r"[^a-z0-9]", "", folded):
        return True
    letters = re.sub(r"[^A-Za-z]", "", entity)
    if entity.isupper() and 2 <= len(letters) <= 6:
        initials = r"\W+".join(rf"{c}\w*" for c in letters)
        return re.search(rf"\b{initials}\b", text) is not None
    return False


def _together(words: Sequence[str], folded: str) -> bool:
    """The words of a name stand together somewhere in the (folded) text: within a window of a few
    words more than the name has ("Norwich City F.C. Hall of Fame"), not scattered over it."""
    tokens = word_stems(WORD.findall(folded))
    wanted = [(fold(w), stem_of(w)) for w in words]
    positions = [[i for i, (t, st) in enumerate(tokens) if t == w or st == ws
                  or (len(w) >= 5 and _one_edit(w, t))]
                 for w, ws in wanted]
    if any(not p for p in positions):
        return False
    window = len(words) + 3
    starts = sorted({i for p in positions for i in p})
    return any(all(any(start <= i < start + window for i in p) for p in positions) for start in starts)


def _one_edit(word: str, other: str) -> bool:
    """`other` is `word` with one typing error (same first letter)."""
    return abs(len(other) - len(word)) <= 1 and other[:1] == word[:1] and within_edits(word, other, 1)


def _word_in(word: str, vocabulary: set[str], stems: set[str]) -> bool:
    folded = fold(word)
    if folded in vocabulary or stem_of(folded) in stems:
        return True
    if len(folded) < 5:
        return False
    # A word an edit away (a typing error), or one of the same root ("Canadian" / "Canada").
    return any(_one_edit(folded, v)
               or (len(v) >= 5 and 0 < abs(len(v) - len(folded)) <= 3 and v[:5] == folded[:5]
                   and (v.startswith(folded[: len(v) - 1]) or folded.startswith(v[: len(folded) - 1])))
               for v in vocabulary)


@lru_cache(maxsize=1024)
def _entity_stems(entity: str) -> set[str]:
    return stems_of(entity.replace("-", " "))


_NO_QUANTITY = re.compile(
    r"(?<![\d.,$€£¥])(?:1[89]\d\d|20\d\d)s?(?![\d.,]\d|\s*(?:%|percent))"
    rf"|\b(?:{MONTH_NAMES})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?\b|\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?(?:{MONTH_NAMES})\b"
    r"|\b\d{1,2}(?:st|nd|rd|th)?\s*[-\u2013]\s*\d{1,2}(?:st|nd|rd|th)?\s+(?:" + MONTH_NAMES + r")\b"
    r"|[A-Za-z]+\d*-\d+(?:-\d+)*\b|\b[A-Za-z]+\d+\w*"
    r"|\b(?:page|pages|pp?\.|pg\.?)\s*:?\s*\d+|\[\d{1,3}\]"
    r"|(?:\b(?:sec|secs|section|sections|chapter|title|article|art|clause|rule)\.?|§+)\s*\d+(?:\.\d+)*\b"
    r"|\b(?:mm|cm|dm|m|km|in|ft)\s?[23]\b"
    r"|(?:^|(?<=[.;:]\s))\(?\d{1,2}[.)](?=\s|$)|\s\d{1,2}\.\s*$",
    re.IGNORECASE)


# ... nor is a street number, a ZIP code or a phone number (case matters: "MD 20910", not "of 20000").
_ADDRESS_NUMBERS = re.compile(
    r"\b\d+\s+(?:[A-Z]\w*\s+){1,3}(?:Street|St|Avenue|Ave|Road|Rd|Highway|Hwy|Boulevard|Blvd|Drive|Lane|Way)\b"
    r"|\b[A-Z]{2}\s+\d{5}(?:-\d{4})?\b|\(\d{3}\)\s?\d{3}[-.\s]\d{4}|\b\d{3}[-.]\d{3}[-.]\d{4}\b")


_QUANTITY_WORDS = re.compile(r"\b(?:" + "|".join(w for w in NUMBER_WORDS if w != "one") + r"|none|nil|no one)\b",
                             re.IGNORECASE)


# An amount of money: a number with its currency beside it ("$ 282,121", "95 dollars", "CHF 12 m").
_CURRENCY = r"(?:[$€£¥₹`]|\b(?:USD|EUR|CHF|GBP|JPY|CAD|AUD|INR|Rs\.?|US\$))"


_CURRENCY_WORD = r"(?:dollars?|euros?|francs?|pounds?|cents?|yen|rupees?|crores?|lakhs?|USD|EUR|CHF|GBP|JPY|INR)\b"


_AMOUNT = re.compile(rf"{_CURRENCY}\s?[-(]?\d|\d[\d,.]*\s?(?:(?:million|billion|thousand|m|bn|k)\s)?\s?{_CURRENCY_WORD}"
                     r"|\bfree(?: of charge)?\b|\bno (?:cost|charge|fee)\b", re.IGNORECASE)


# Capitalised words of letters and forms that name no one ("To Whom it May Concern", "Best Regards").
NOT_NAMES = frozenset("""
    dear regards best sincerely concern hi hello thanks thank cheers yours kind warm attn re fw fwd subject cc bcc
    sent page table figure fig chapter section note notes appendix
""".split())


_PHONE = re.compile(r"(?<!\d)(?:\+?\d{1,3}[\s.-]?)?\(?\d{2,4}\)?[\s.-]?\d{3}[\s.-]?\d{3,4}(?!\d)")


_VENUE = re.compile(r"\b(?:hotel|centre|center|hall|venue|building|room|stadium|arena|campus|auditorium|theatre|theater|"
                    r"club|conference cent(?:re|er)|street|avenue|road|boulevard|square|floor|suite)\b|\b\d+\s+[A-Z]\w+\s+"
                    r"(?:Street|St|Avenue|Ave|Road|Rd|Strasse|Straße)\b", re.IGNORECASE)


def _has_number(text: str, exclude: Iterable[str]) -> bool:
    """A number that counts or measures something, other than the question's own numbers: years,
    dates, codes, pages, markers and list numbering are none."""
    own = set(exclude)
    plain = _ADDRESS_NUMBERS.sub(" ", _NO_QUANTITY.sub(" ", text))
    for m in NUMBER.finditer(plain.replace(",", "")):
        if m.group(0).lstrip("+-") not in own:
            return True
    return _QUANTITY_WORDS.search(plain) is not None


def _has_name(text: str, asked: set[str]) -> bool:
    """A capitalised word the question does not use, inside a sentence (not opening one, nor a
    month or weekday): a name of a person, place or organisation."""
    for m in WORD.finditer(text):
        word = m.group(0)
        if (not word[:1].isupper() or stem_of(word) in asked or word.lower() in QUESTION_WORDS | set(MONTHS + WEEKDAYS)
                or word.lower() in NOT_NAMES):
            continue
        before = text[: m.start()].rstrip()
        if before and before[-1] not in ".!?:;|\u2014\u2013-•\"(":
            return True
    return False


def _season_in(season: str, text: str) -> bool:
    """The season as a time: lower case, or capitalised where a sentence or line starts ("Silver
    Spring, MD" is a place)."""
    for m in re.finditer(rf"\b{season}", text, re.IGNORECASE):
        before = text[: m.start()].rstrip()
        if m.group(0)[0].islower() or not before or before[-1] in ".!?:;|\u2014-":
            return True
    return False


def _comparison_met(value: str, text: str) -> bool:
    """The text bounds the number the same way, or at least not the other way ("19 units or more"
    answers no question about fewer than 19)."""
    word, number = value.rsplit(" ", 1)
    same, other = (LESS, MORE) if word == "fewer than" else (MORE, LESS)
    plain = text.replace(",", "")

    def bounded(direction: str) -> bool:
        return re.search(rf"\b{direction}(?:\s+than)?\s+{re.escape(number)}\b|(?<![\d.]){re.escape(number)}\b"
                         rf"(?:\s+[\w|]+){{0,3}}\s+(?:or|and)\s+{direction}\b", plain, re.IGNORECASE) is not None

    return bounded(same) or not bounded(other)


def _row_values(text: str) -> str:
    """A self-describing row's cell values without its title and column names (whose numbers,
    "Column 1", "Sales (a)", count nothing)."""
    cells = text.rsplit(TITLE_SEPARATOR, 1)[-1].split("; ")
    return " ; ".join(cell.rsplit(": ", 1)[-1] for cell in cells)


_RATE_FORMS = {
    "day": r"per day|a day|each day|every day|daily|/\s?day|/\s?d\b|\bb/d\b|\bbpd\b|per diem|\bday\b",
    "week": r"per week|a week|each week|every week|weekly|/\s?w(?:ee)?k\b|\bweek\b",
    "month": r"per month|a month|each month|every month|monthly|/\s?mo(?:nth)?\b|\bmonth\b",
    "year": r"per year|a year|each year|every year|yearly|annually|annual|per annum|p\.a\.|/\s?y(?:ea)?r\b|\byear\b",
    "hour": r"per hour|an hour|each hour|every hour|hourly|/\s?h(?:ou)?r\b|\bkm/h\b|\bmph\b|\bhour\b",
    "minute": r"per minute|a minute|each minute|/\s?min\b|\brpm\b|\bminute\b",
    "second": r"per second|a second|/\s?s(?:ec)?\b|\bsecond\b",
}


def _rate_in(unit: str, text: str) -> bool:
    """The text states a rate of the unit ("per day", "b/d", "annually", "a year")."""
    return re.search(rf"(?:{_RATE_FORMS[unit]})", text, re.IGNORECASE) is not None


def _answer_met(kind: str, text: str, question: str, own_numbers: Sequence[str]) -> bool:
    """Whether `text` holds the kind of answer asked for, in words other than the question's own
    (the "day" of "family day" is no date; the "place" of "take place" no place)."""
    asked = stems_of(question)
    rest = "".join(w if w.isspace() or stem_of(w) not in asked else "_" for w in re.split(r"(\s+)", text) if w)
    if kind in ("money", "quantity") and is_row(text):
        rest = _row_values(rest)
    if kind == "money":
        # A table row names its currency once, in its title ("In millions of CHF"): any amount of it.
        if is_row(text):
            return _has_number(rest, own_numbers)
        return _AMOUNT.search(rest) is not None and _has_number(rest, own_numbers)
    if kind == "quantity":
        return _has_number(rest, own_numbers)
    if kind == "year":
        return any(y not in own_numbers for y in YEAR.findall(rest)) or SHORT_YEAR.search(rest) is not None
    if kind == "date":
        return DATE.search(rest) is not None
    if kind == "place":
        return PLACE.search(rest) is not None or _has_name(text, asked)
    if kind == "person":
        return _has_name(text, asked)
    if kind == "phone":
        return _PHONE.search(text) is not None
    if kind == "venue":
        return _VENUE.search(rest) is not None
    return True


@dataclass
class Scope:
    """Where a candidate's constraints are looked for."""

    text: str  # the candidate: a sentence with the next one, or a table row with its title or header
    near: str  # its paragraph and the ones either side (a table row: the row)
    document: str  # its passage, file name and headings
    near_stems: set[str]
    row_heads: list[set[str]]
    row: bool = False
    heading: str = ""
    cells: tuple[tuple[str, str], ...] = ()


def unmet(constraints: Sequence[Constraint], text: str, context: str = "", *, question: str = "") -> list[Constraint]:
    """The constraints `text` (a sentence or table row) fails; `context` is its passage and file
    name, where the entities the question names as owners ("Galaxy Gaming's") may be met instead.
    Every content term must be in `text` here (the verdict asks for a share of them)."""
    scope = Scope(text=text, near=text, document=f"{text}\n{context}", near_stems=stems_of(text),
                   row_heads=row_heads(context))
    return scope_unmet(constraints, scope, question)


def scope_unmet(constraints: Sequence[Constraint], scope: Scope, question: str,
           variants: dict[str, set[str]] | None = None) -> list[Constraint]:
    own_numbers = [c.value for c in constraints if c.kind in ("number", "year")]
    failed = []
    for c in constraints:
        if c.kind == "year":
            ok = _year_in(c.value, scope.text)
        elif c.kind == "period":
            ok = PERIODS[c.value][1].search(scope.text) is not None
        elif c.kind == "month":
            ok = re.search(rf"\b{c.value[:3]}", scope.text, re.IGNORECASE) is not None
        elif c.kind == "number":
            ok = _number_in(c.value, scope.text)
        elif c.kind == "comparison":
            ok = _comparison_met(c.value, scope.text)
        elif c.kind == "currency":
            ok = CURRENCIES[c.value][1].search(f"{scope.heading} {scope.text}") is not None
        elif c.kind == "rate":
            ok = _rate_in(c.value, scope.text)
        elif c.kind == "season":
            ok = _season_in(c.value, f"{scope.heading} {scope.text}")
        elif c.kind == "entity":
            ok = _entity_met(c, scope)
        elif c.kind == "term":
            ok = c.soft or bool(scope.near_stems & (variants or {}).get(c.value, {stem_of(c.value)}))
        elif c.kind == "answer":
            ok = _answer_met(c.value, scope.text, question, own_numbers)
        elif c.kind == "object":
            ok = bool(scope.near_stems & (variants or {}).get(c.value, {stem_of(c.value)}))
        elif c.kind == "measure":
            ok = _measure_in(c.value, f"{scope.heading} {scope.text}", variants)
        else:
            ok = True
        if ok and c.kind in ("entity", "measure") and scope.cells and not _cell_filled(c, scope.cells):
            ok = False
        if not ok:
            failed.append(c)
    return failed


def _measure_in(measure: str, text: str, variants: dict[str, set[str]] | None) -> bool:
    """The measure's noun (or another name of it) in `text` as a noun of that measure: "populous"
    shares the stem of "population" but counts no one, so a word of the measure's own stem must
    begin like it ("population's", "populations")."""
    names = [fold(n) for n in measure_names(measure)]
    own = {stem_of(n) for n in names}
    wanted = (variants or {}).get(measure, {stem_of(measure)}) | own
    return any(stem in wanted and (stem not in own or any(word.startswith(n[: max(4, len(n) - 3)]) for n in names))
               for word, stem in word_stems(WORD.findall(fold(text))))


_EMPTY_CELL = re.compile(r"^[\s\-\u2013\u2014]*$")


def _cell_filled(c: Constraint, cells: Sequence[tuple[str, str]]) -> bool:
    """A column the question names ("Rockwell C", "Charpy impact strength") holds a value in the
    row, or the row does not answer it (an empty cell, a dash)."""
    named = [value for name, value in cells if name and (
        entity_in(c.value, name) if c.kind == "entity" else bool(stems_of(name) & {stem_of(c.value)}))]
    return not named or any(not _EMPTY_CELL.match(value) for value in named)


def _entity_met(c: Constraint, scope: Scope) -> bool:
    """A table row's own header named by the question must be the candidate row's; an owner
    ("Galaxy Gaming's") anywhere in the passage; any other entity near the candidate (or in the
    passage, with one of its words near the candidate)."""
    if any(_entity_stems(c.value) == head for head in scope.row_heads):
        return entity_in(c.value, scope.text)
    if c.scope == "document":
        return entity_in(c.value, scope.near) or entity_in(c.value, scope.document)
    if entity_in(c.value, scope.near):
        return True
    own = _entity_stems(c.value) - _generic_name_stems()  # "Cardiff" of "Cardiff City", not its "City"
    return bool(own & scope.near_stems) and entity_in(c.value, scope.document)


# Words many names share: one of them near the candidate does not bring the name's other words there.
GENERIC_NAME_WORDS = """
    city county state states zone group team club company inc corp ltd llc plc university college school
    department division office national international united new north south east west central general
    fc association society institute bank hospital centre center
"""


@lru_cache(maxsize=1)
def _generic_name_stems() -> frozenset[str]:
    return frozenset(stems_of(GENERIC_NAME_WORDS))
