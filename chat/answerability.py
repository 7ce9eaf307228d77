"""Answerability: whether the passages answer the question, not only whether they are about it.

The relevance gate (chat.services.relevance_gate) judges how similar the passages are to the
question. Near the documents' topic that is not enough: "Zone NA's sales for the full year 2023"
is very similar to a workbook that has only half-years. This module reads the question's
*constraints* and asks whether some candidate, a sentence (with the one after it) or a table row
of the passages, meets them all. Model-free: regular expressions and the BM25 tokenizer's stems.

Constraints (`constraints_of`):
- `year`: a year the question names ("2021", "FY 23"); met by that year, its short form after FY
  or an apostrophe, or a range of years holding it ("2019–2022");
- `period`: a quarter, a half-year or a full year ("in Q2", "first half", "full year", "FY 23");
- `month`, `season`: a month or a season it names as a time ("in March 2023", "last spring"; the
  "Spring" of "Silver Spring" is a place);
- `number`: another number it names ("fewer than 19 units", "column 3"), as digits or words, and
  `comparison`: its bound, which the candidate must not reverse ("19 units or more");
- `entity`: a proper noun, acronym or code ("Zone NA", "Boston Bruins", "SNB21-1", "USD"), or one
  of its other names (ALIASES: "COVID19" / "2019-nCoV", "USA" / "United States");
- `term`: a rarer content word ("fax", "organic", "tents"): a noun the passages hold nowhere
  cannot be answered from them; the answering candidate must hold most of the content words;
- `answer`: the kind of answer asked for: a quantity (how many/much, or what was a measure:
  revenue, density, price...), an amount of money (with its currency beside the number), a date
  (when), a place (where), a venue, a phone number, a person (who). Years, dates, codes, pages,
  markers, street numbers and a unit's exponent count nothing;
- `measure`: the noun a how-many question counts or a what-question measures ("tents",
  "revenue"): the number must come with it, in the same sentence or row or its heading, and
  `object`: what the measure is of ("the price of oranges"), near it.

Where a constraint must be met (its `scope`): years, periods, months, numbers, terms and the kind
of answer in the candidate itself (a table row's title carries its period: "January–June 2023"),
entities anywhere in the candidate's passage or its file name (a 10-K's rows do not repeat the
company's name), except an entity that is some table row's own header in the passage ("Zone NA",
"PetCare"): that one must be in the candidate row, or any row would do. A column the question
names ("Rockwell C") must hold a value in the candidate row.

`verdict` returns whether some candidate meets every constraint, which constraint was met where
(or, when none does, the nearest candidate and what it lacks), for the answer's trace.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from ingestion.tables import TITLE_SEPARATOR
from ingestion.tokenize import Tokenizer
from retrieval.types import ScoredChunk

NUMBER_WORDS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40,
    "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100, "thousand": 1000, "million": 10**6, "billion": 10**9, "dozen": 12,
}
MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
          "november", "december")
# Of the content terms some passage holds, the share the answering candidate must hold.
TERM_SHARE = 0.0
# A question naming this many things the passages hold is specific enough to ignore a content
# word none of them holds.
SPECIFIC_ENOUGH = 3
# A line this short above a paragraph or a table is its heading.
HEADING_CHARS = 100
# How much of the text on each side of a line of prose belongs to its neighbourhood (characters).
NEAR_CHARS = 300
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

# Words of the question that ask, not what it asks about.
QUESTION_WORDS = frozenset("""
    what which who whom whose when where why how many much long often far old tall big large
    is are was were be been being do does did done can could will would shall should may might must
    has have had having the a an of in on at to for from by with about into onto per as and or not no
    this that these those there their its it they them he she his her we our you your i me my
    please tell show give find say list name names know let
    any some all each every other another same
    s t
""".split())
# Generic nouns of questions: asked for, not asked about ("what is the value of ...").
GENERIC_TERMS = frozenset("""
    value values amount amounts number numbers figure figures total totals information info detail details
    kind type sort thing things way ways part parts example examples entry entries item items
    document documents report file files page pages text table tables row column section mention mentioned
    workbook spreadsheet sheet presentation slide slides deck memo email e-mail mail letter handbook
    according state stated say said
    group company companies firm corporation organisation organization
    first second third fourth fifth last next previous latest current now today
""".split())
# Common English verbs in base and irregular forms: a question's verb is often not the word the
# answering sentence uses ("how much did X sell" / "Sales"), so one missing from every passage is
# no constraint. Nouns such words also are (cost, work) stay constraints when they are the object.
VERBS = frozenset("""
    accept achieve add affect agree allow announce answer appear apply appoint approve argue arrive ask
    attack attend avoid base become began begin begun believe belong bring brought build built buy bought
    call carry cause change choose chose close come came complete consider contact contain continue
    control cover create credit cut deal decide define deliver depend describe design develop die
    differ do done drive drop earn employ enable end enter establish expect experience explain fall fell
    feel felt fight fill find found finish follow form gave get give given go goes gone got grow grew
    grown happen head hear held help hold identify improve include increase indicate inhibit introduce
    involve join keep kept kill know knew known launch lead led learn leave left let like live look lose
    lost made make manage mean meant meet met move need offer open operate own pass pay paid perform
    plan play prevent produce protect prove provide publish put quit raise ran reach read receive
    record reduce refer regard relate release remain remove replace report represent require result
    return reveal rise rose run said saw save say score see seem seen sell send sent serve set show
    sold speak spend spent stand start stay stop study suggest supervise support suppose take taken
    talk tell tend think thought told took transmit treat try turn understand use used wait want watch
    wear went win won work write wrote written
""".split())
# Adverbs of manner and degree: how the question asks, rarely what the text says.
ADVERBS = frozenset("""
    quickly slowly usually typically generally currently recently formally officially exactly
    approximately roughly mainly mostly actually really likely also still already ever even just
""".split())

# Nouns of a measure: "what was X's revenue", "the density of Y" ask for a number.
MEASURES = frozenset("""
    revenue revenues sales turnover profit profits income earnings ebitda margin margins cost costs price prices
    fee fees salary salaries wage wages rate rates density hardness strength weight height length width depth
    size capacity temperature pressure speed population count percentage ratio score duration dose dosage
    mtu bandwidth volume balance budget spending expense expenses growth yield headcount
""".split())

_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212"
_YEAR = re.compile(r"(?<![\d.,])(1[89]\d\d|20\d\d)(?![\d.,]\d)")
_SHORT_YEAR = re.compile(r"\b(?:FY|H[12]|Q[1-4])\s?'?(\d\d)\b|['\u2019](\d\d)\b", re.IGNORECASE)
_YEAR_RANGE = re.compile(r"\b(1[89]\d\d|20\d\d)\s*(?:[-\u2013\u2014]|to|through|until|and)\s*(1[89]\d\d|20\d\d|\d\d)\b")
_NUMBER = re.compile(r"(?<![\w.])[-+]?\d[\d,]*(?:\.\d+)?(?![\w])")
_CODE = re.compile(r"\b(?=[A-Za-z0-9-]*[A-Za-z])(?=[A-Za-z0-9-]*\d)[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*\b")
_WORD = re.compile(r"[^\W_]+(?:['\u2019][^\W_]+)*", re.UNICODE)
_PERIODS = {
    "quarter": (re.compile(r"\b(?:first|second|third|fourth|1st|2nd|3rd|4th|last|next)\s+(?:fiscal\s+)?quarter\b"
                           r"|\bQ[1-4]\b|\bquarterly\b", re.IGNORECASE),
                re.compile(r"quarter|\bQ[1-4]\b|three months|3 months|january\s*[-\u2013]\s*march|april\s*[-\u2013]\s*june"
                           r"|july\s*[-\u2013]\s*september|october\s*[-\u2013]\s*december", re.IGNORECASE)),
    "half-year": (re.compile(r"\b(?:first|second|1st|2nd)\s+half\b|\bH[12]\b|\bhalf[- ]year|\bsix months\b|\b6 months\b"
                             r"|\bsemi-?annual", re.IGNORECASE),
                  re.compile(r"\bhalf\b|half[- ]year|\bH[12]\b|six months|6 months|six-month|semi-?annual"
                             r"|january\s*[-\u2013]\s*june|july\s*[-\u2013]\s*december", re.IGNORECASE)),
    "full year": (re.compile(r"\b(?:full|whole|entire)[- ]year\b|\btwelve months\b|\b12 months\b|\bFY\s?'?\d\d(?:\d\d)?\b"
                             r"|\bfiscal (?:year )?(?:19|20)?\d\d\b", re.IGNORECASE),
                  re.compile(r"(?:full|whole|entire)[- ]year|twelve months|12 months|year ended|years ended"
                             r"|fiscal year|\bannual|\bFY\b|january\s*[-\u2013]\s*december", re.IGNORECASE)),
}
_MONEY_ASK = re.compile(r"\bhow much\b.*\b(?:cost|costs|pay|paid|charge|charged|price|priced|worth|spend|spent|fee|fees)\b"
                        r"|\b(?:what|which)\b.*\b(?:price|cost|fee|fees|salary|wage)\b", re.IGNORECASE)
_MONEY = re.compile(r"[$€£¥]|\b(?:USD|EUR|CHF|GBP|JPY|CAD|AUD|dollars?|euros?|francs?|pounds?|cents?|yen|price|"
                    r"prices|cost|costs|fee|fees|paid|charge|charges|free of charge|free|salary|wage)\b", re.IGNORECASE)
_DATE = re.compile(r"\b(?:1[89]\d\d|20\d\d)\b|\b(?:" + "|".join(MONTHS + WEEKDAYS) + r")\b"
                   r"|\b(?:jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec)\.?\s+\d|\b\d{1,2}[/.]\d{1,2}[/.]\d{2,4}\b"
                   r"|\b\d{1,2}:\d\d\b|\b(?:today|tomorrow|yesterday|tonight|noon|midnight|morning|afternoon|evening|"
                   r"weekends?|weeks?|months?|years?|decades?|century|centuries|hours?|minutes?|spring|summer|autumn|fall|"
                   r"winter|dates?|days?|since|until|after|before|during|ago|every|once|twice|annually|daily|weekly|"
                   r"monthly|yearly)\b", re.IGNORECASE)
_PLACE = re.compile(r"\b(?:street|st|avenue|ave|road|rd|suite|ste|floor|room|building|city|town|country|state|"
                    r"province|county|region|office|offices|headquarters|venue|hall|center|centre|campus|site|"
                    r"located|based|address|place|places|area|where|abroad|online|remote|remotely)\b|\b\d{5}\b",
                    re.IGNORECASE)


@dataclass(frozen=True)
class Constraint:
    """One thing the answering sentence or row must hold."""

    kind: str  # year | period | month | number | entity | term | answer
    value: str  # as the question names it ("2021", "full year", "Zone NA", "fax", "quantity")
    scope: str = "candidate"  # candidate: the sentence or row; near: its neighbourhood; document: its passage
    soft: bool = False  # a term the answer need not repeat: a verb, or the noun the question asks for

    def label(self) -> str:
        return f"{self.kind} {self.value!r}"


@dataclass(frozen=True)
class Candidate:
    """A sentence (with the next one: answers often follow the sentence that matches) or a table row."""

    n: int  # the passage it lies in, 1-based
    text: str
    near: str = ""  # its neighbourhood: its paragraph and the ones either side; a table row alone
    row: bool = False
    heading: str = ""  # the short line above it or above its table ("Hardness of grade SNB22-3")
    cells: tuple[tuple[str, str], ...] = ()  # a table row's (column name, value) pairs


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


def _fold(text: str) -> str:
    """Lower case, accents and typographic quotes and dashes folded, whitespace collapsed."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = text.replace("\u2019", "'").replace("\u2018", "'")
    for dash in _DASHES:
        text = text.replace(dash, "-")
    return " ".join(text.lower().split())


@lru_cache(maxsize=1)
def _tokenizer() -> Tokenizer:
    # The stems alone (no stop-words dropped): fixed, so the check does not move with BM25 settings.
    return Tokenizer(stemmer="english", stopwords="none")


def _stems(text: str) -> set[str]:
    return set(_tokenizer()(_fold(text)))


def _stem(word: str) -> str:
    stems = _tokenizer()(_fold(word))
    return stems[0] if stems else _fold(word)


# ---------------------------------------------------------------------------------------------
# The question's constraints


def _years(question: str) -> list[str]:
    years = [m.group(1) for m in _YEAR.finditer(question)]
    for m in _SHORT_YEAR.finditer(question):
        short = m.group(1) or m.group(2)
        years.append(("19" if int(short) > 50 else "20") + short)
    return list(dict.fromkeys(years))


def _numbers(question: str, years: Iterable[str]) -> list[str]:
    found = []
    masked = _SHORT_YEAR.sub(" ", question)
    for code in _codes(question):
        masked = masked.replace(code, " ")
    for m in _NUMBER.finditer(masked):
        value = m.group(0).lstrip("+").replace(",", "")
        if value not in years:
            found.append(value)
    return list(dict.fromkeys(found))


def _codes(question: str) -> list[str]:
    """Codes: words of letters and digits ("SNB21-1", "COVID-19", "H7N9"), not years or periods."""
    found = []
    for m in _CODE.finditer(question):
        code = m.group(0)
        if not re.fullmatch(r"(?:FY|H[12]|Q[1-4])\d*|\d+(?:st|nd|rd|th|s)", code, re.IGNORECASE):
            found.append(code)
    return found


_AUXILIARIES = frozenset("do does did has have had will would can could should may might must".split())
_COPULAS = frozenset("is are was were".split())
_PREPOSITIONS = frozenset("""of for in to with by on at from about against among between within into across
    under over per via""".split())
_DETERMINERS = frozenset("the a an this that these those its their our".split())


def _topic_position(words: list[re.Match[str]], start: int) -> bool:
    """Whether the name starting at word `start` stands where a question names its topic rather
    than what it asks for: after a preposition ("symptoms of COVID-19", "in the Blackboard
    template"), as the subject of its verb ("did Galaxy Gaming add"), or right after the copula
    ("where is Q130"; but "what is the Brinell hardness" asks for the hardness)."""
    before = [w.group(0).lower() for w in words[max(0, start - 2) : start]]
    if not before:
        return False
    last = before[-1]
    if last in _PREPOSITIONS or last in _AUXILIARIES or last in _COPULAS:
        return True
    return last in _DETERMINERS and len(before) > 1 and (before[0] in _PREPOSITIONS or before[0] in _AUXILIARIES)


def _entities(question: str) -> list[tuple[str, bool]]:
    """(name, owner) for proper nouns (runs of capitalised words, the question's own first word
    aside), acronyms and codes; `owner`: named as the owner of what is asked ("Galaxy Gaming's")."""
    codes = _codes(question)
    masked = question
    for code in codes:
        masked = masked.replace(code, " , ")
    words = list(_WORD.finditer(masked))
    found: list[tuple[str, bool]] = []
    for code in codes:
        before = list(_WORD.finditer(question[: question.find(code)]))
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
        close(_topic_position(words, start))
    close(_topic_position(words, start))
    result: dict[str, bool] = {}
    for name, owner in found:
        result[name] = result.get(name, False) or owner
    return list(result.items())


def _answer_kind(question: str) -> str | None:
    q = _fold(question)
    if re.search(r"\b(?:phone|telephone|fax|mobile|cell|contact)(?: number)?\b", q) and re.search(r"\bnumber\b|\bphone\b", q):
        return "phone"
    if re.search(r"\b(?:which|what|at which|in which) (?:venue|hotel|building|room|address|street|hall|stadium|arena)\b", q):
        return "venue"
    if _MONEY_ASK.search(question):
        return "money"
    if _measure(question) is not None and re.match(r"^(?:what|which)\b", q):
        return "quantity"
    if re.search(r"\bhow (?:many|much|long|often|far|old|tall|big|large|high|heavy|fast)\b|\bwhat (?:percentage|share|"
                 r"proportion|number|amount|fraction)\b", q):
        return "quantity"
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
    """The noun of the measure a what-question asks for ("revenue", "density"), if any."""
    words = [_fold(m.group(0)) for m in _WORD.finditer(question)]
    return next((w for w in words if w in MEASURES), None)


def _counted(question: str) -> str | None:
    """The noun a how-many question counts ("how many full-time employees" -> "employees"): the last
    word of the run after "how many", unless it is a name (entities are checked as such)."""
    m = re.search(r"\bhow many\s+((?:[\w'-]+\s+){0,3}?[\w'-]+)(?=\s+(?:" + "|".join(
        sorted(_AUXILIARIES | _COPULAS | _PREPOSITIONS | {"there", "have", "has", "were", "are", "did"}))
        + r")\b|\s*[?,.]|$)", question, re.IGNORECASE)
    if m is None:
        return None
    noun = m.group(1).split()[-1].split("-")[-1]
    return None if noun[:1].isupper() or _fold(noun) in GENERIC_TERMS else _fold(noun)


def _measured(question: str, measure: str) -> str | None:
    """What a measure is of ("the price of oranges" -> "oranges"): the last word before the next
    preposition or the end, unless it is a name (entities are checked as such)."""
    m = re.search(rf"\b{re.escape(measure)}\s+of\s+(?:the\s+|a\s+|an\s+)?((?:[\w'-]+\s+){{0,3}}?[\w'-]+)"
                  r"(?=\s+(?:" + "|".join(sorted(_PREPOSITIONS | _AUXILIARIES | _COPULAS)) + r")\b|\s*[?,.]|$)",
                  question, re.IGNORECASE)
    if m is None:
        return None
    words = m.group(1).split()
    word = words[-1]
    return None if any(w[:1].isupper() for w in words) or any(ch.isdigit() for ch in word) or _fold(word) in GENERIC_TERMS else _fold(word)


def _content_terms(question: str, taken: Iterable[str]) -> list[tuple[str, bool]]:
    """(word, soft) for the question's content words that are not part of an entity, year or
    number; soft: a verb, participle or adverb, the noun a which/what asks for ("which
    broadcasters": the answer names one) or the adjective of a how ("how bad")."""
    taken_stems: set[str] = set()
    for phrase in taken:
        taken_stems |= _stems(phrase)
    words = [_fold(re.sub(r"['\u2019]s$", "", m.group(0))) for m in _WORD.finditer(question)]
    terms: dict[str, bool] = {}
    seen: set[str] = set()
    for i, word in enumerate(words):
        if (word in QUESTION_WORDS or word in GENERIC_TERMS or word in ADVERBS or len(word) < 3
                or any(ch.isdigit() for ch in word) or word in NUMBER_WORDS or word in MONTHS):
            continue
        stem = _stem(word)
        if stem in taken_stems or stem in seen:
            continue
        seen.add(stem)
        asked = i > 0 and words[i - 1] in ("which", "what", "how", "whose")
        terms[word] = asked or _soft(word)
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
    constraints += [Constraint("period", name) for name, (ask, _) in _PERIODS.items() if ask.search(question)]
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
    for ask, _ in _PERIODS.values():
        plain = ask.sub(" ", plain)
    constraints += [Constraint("term", t, scope="near", soft=soft) for t, soft in
                    _content_terms(plain, [e for e, _ in entities])]
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


# ---------------------------------------------------------------------------------------------
# Whether a text meets them


def _year_in(year: str, text: str) -> bool:
    if re.search(rf"(?<![\d.,]){year}(?![\d])", text):
        return True
    short = year[2:]
    if re.search(rf"\b(?:FY|H[12]|Q[1-4])\s?'?{short}\b|['\u2019]{short}\b|\bsince {short}\b", text, re.IGNORECASE):
        return True
    for m in _YEAR_RANGE.finditer(text):
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
    folded = _fold(entity)
    return sorted(name for group in ALIASES if folded in group for name in group if name != folded)


def _entity_in(entity: str, text: str) -> bool:
    """`entity` or one of its other names (ALIASES) in `text`."""
    if _entity_spelled_in(entity, text):
        return True
    folded = _fold(text)
    return any(re.search(rf"(?<![a-z0-9]){re.escape(name)}(?![a-z0-9])", folded) for name in _aliases(entity))


@lru_cache(maxsize=4096)
def _entity_spelled_in(entity: str, text: str) -> bool:
    """`entity` in `text`: each of its words (all but one of three or more) as a word, a stem or
    a word an edit away (typing errors); or written without its spaces and hyphens ("COVID19" for
    "COVID-19"); or, an acronym, as the initials of capitalised words ("US": "United States")."""
    folded = _fold(text)
    compact = re.sub(r"[^a-z0-9]", "", _fold(entity))
    if any(ch.isdigit() for ch in entity):  # a code: exactly, hyphens and spaces aside ("COVID19")
        return re.search(rf"(?<![a-z0-9]){re.escape(compact)}(?![a-z0-9])", folded.replace("-", "")) is not None
    words = [w for w in re.split(r"[\s-]+", entity) if w]
    vocabulary = set(_WORD.findall(folded))
    stems = _stems(text)
    hits = sum(1 for w in words if _word_in(w, vocabulary, stems))
    if hits >= len(words) - (1 if len(words) >= 3 else 0):
        return True
    if len(compact) >= 4 and compact in re.sub(r"[^a-z0-9]", "", folded):
        return True
    letters = re.sub(r"[^A-Za-z]", "", entity)
    if entity.isupper() and 2 <= len(letters) <= 6:
        initials = r"\W+".join(rf"{c}\w*" for c in letters)
        return re.search(rf"\b{initials}\b", text) is not None
    return False


def _word_in(word: str, vocabulary: set[str], stems: set[str]) -> bool:
    folded = _fold(word)
    if folded in vocabulary or _stem(folded) in stems:
        return True
    if len(folded) < 5:
        return False
    return any(abs(len(v) - len(folded)) <= 1 and v[0] == folded[0] and _within(folded, v, 1) for v in vocabulary)


@lru_cache(maxsize=1024)
def _entity_stems(entity: str) -> set[str]:
    return _stems(entity.replace("-", " "))


# Numbers that count nothing: a year or decade, the day of a date, a number inside a code ("node-2",
# "SNB22-3"), a page, a reference marker ("[19]"), an item's numbering ("4.", "b)").
_MONTH_NAMES = "|".join([*MONTHS, "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec"])
_NO_QUANTITY = re.compile(
    r"(?<![\d.,$€£¥])(?:1[89]\d\d|20\d\d)s?(?![\d.,]\d|\s*(?:%|percent))"
    rf"|\b(?:{_MONTH_NAMES})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?\b|\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?(?:{_MONTH_NAMES})\b"
    r"|\b\d{1,2}(?:st|nd|rd|th)?\s*[-\u2013]\s*\d{1,2}(?:st|nd|rd|th)?\s+(?:" + _MONTH_NAMES + r")\b"
    r"|[A-Za-z]+\d*-\d+(?:-\d+)*\b|\b[A-Za-z]+\d+\w*"
    r"|\b(?:page|pages|pp?\.|pg\.?)\s*:?\s*\d+|\[\d{1,3}\]"
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
    for m in _NUMBER.finditer(plain.replace(",", "")):
        if m.group(0).lstrip("+-") not in own:
            return True
    return _QUANTITY_WORDS.search(plain) is not None


def _has_name(text: str, asked: set[str]) -> bool:
    """A capitalised word the question does not use, inside a sentence (not opening one, nor a
    month or weekday): a name of a person, place or organisation."""
    for m in _WORD.finditer(text):
        word = m.group(0)
        if (not word[:1].isupper() or _stem(word) in asked or word.lower() in QUESTION_WORDS | set(MONTHS + WEEKDAYS)
                or word.lower() in NOT_NAMES):
            continue
        before = text[: m.start()].rstrip()
        if before and before[-1] not in ".!?:;|\u2014\u2013-•\"(":
            return True
    return False


# A season the question names as a time ("last spring", "the summer campaign"); "fall" only after a
# word that makes it one.
_SEASON_ASK = re.compile(r"\b(spring|summer|autumn|winter)\b|\b(?:last|this|next|the|in)\s+(fall)\b", re.IGNORECASE)
_LESS = r"(?:fewer|less|lower|under|below|at most|up to|no more)"
_MORE = r"(?:more|greater|higher|over|above|at least|exceeding|in excess of)"


def _season_in(season: str, text: str) -> bool:
    """The season as a time: lower case, or capitalised where a sentence or line starts ("Silver
    Spring, MD" is a place)."""
    for m in re.finditer(rf"\b{season}", text, re.IGNORECASE):
        before = text[: m.start()].rstrip()
        if m.group(0)[0].islower() or not before or before[-1] in ".!?:;|\u2014-":
            return True
    return False


def _comparisons(question: str) -> list[tuple[str, str]]:
    """("fewer than", "19")-like bounds on a number of the question."""
    found = []
    for direction in (_LESS, _MORE):
        for m in re.finditer(rf"\b({direction})(?:\s+than)?\s+(\d[\d,]*(?:\.\d+)?)\b", question, re.IGNORECASE):
            found.append(("fewer than" if direction == _LESS else "more than", m.group(2).replace(",", "")))
    return found


def _comparison_met(value: str, text: str) -> bool:
    """The text bounds the number the same way, or at least not the other way ("19 units or more"
    answers no question about fewer than 19)."""
    word, number = value.rsplit(" ", 1)
    same, other = (_LESS, _MORE) if word == "fewer than" else (_MORE, _LESS)
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


def _answer_met(kind: str, text: str, question: str, own_numbers: Sequence[str]) -> bool:
    """Whether `text` holds the kind of answer asked for, in words other than the question's own
    (the "day" of "family day" is no date; the "place" of "take place" no place)."""
    asked = _stems(question)
    rest = "".join(w if w.isspace() or _stem(w) not in asked else "_" for w in re.split(r"(\s+)", text) if w)
    if kind in ("money", "quantity") and _is_row(text):
        rest = _row_values(rest)
    if kind == "money":
        # A table row names its currency once, in its title ("In millions of CHF"): any amount of it.
        if _is_row(text):
            return _has_number(rest, own_numbers)
        return _AMOUNT.search(rest) is not None and _has_number(rest, own_numbers)
    if kind == "quantity":
        return _has_number(rest, own_numbers)
    if kind == "date":
        return _DATE.search(rest) is not None
    if kind == "place":
        return _PLACE.search(rest) is not None or _has_name(text, asked)
    if kind == "person":
        return _has_name(text, asked)
    if kind == "phone":
        return _PHONE.search(text) is not None
    if kind == "venue":
        return _VENUE.search(rest) is not None
    return True


@dataclass
class _Scope:
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
    scope = _Scope(text=text, near=text, document=f"{text}\n{context}", near_stems=_stems(text),
                   row_heads=_row_heads(context))
    return _unmet(constraints, scope, question)


def _unmet(constraints: Sequence[Constraint], scope: _Scope, question: str,
           variants: dict[str, set[str]] | None = None) -> list[Constraint]:
    own_numbers = [c.value for c in constraints if c.kind in ("number", "year")]
    failed = []
    for c in constraints:
        if c.kind == "year":
            ok = _year_in(c.value, scope.text)
        elif c.kind == "period":
            ok = _PERIODS[c.value][1].search(scope.text) is not None
        elif c.kind == "month":
            ok = re.search(rf"\b{c.value[:3]}", scope.text, re.IGNORECASE) is not None
        elif c.kind == "number":
            ok = _number_in(c.value, scope.text)
        elif c.kind == "comparison":
            ok = _comparison_met(c.value, scope.text)
        elif c.kind == "season":
            ok = _season_in(c.value, f"{scope.heading} {scope.text}")
        elif c.kind == "entity":
            ok = _entity_met(c, scope)
        elif c.kind == "term":
            ok = c.soft or bool(scope.near_stems & (variants or {}).get(c.value, {_stem(c.value)}))
        elif c.kind == "answer":
            ok = _answer_met(c.value, scope.text, question, own_numbers)
        elif c.kind == "object":
            ok = bool(scope.near_stems & (variants or {}).get(c.value, {_stem(c.value)}))
        elif c.kind == "measure":
            ok = bool(_stems(f"{scope.heading} {scope.text}") & (variants or {}).get(c.value, {_stem(c.value)}))
        else:
            ok = True
        if ok and c.kind in ("entity", "measure") and scope.cells and not _cell_filled(c, scope.cells):
            ok = False
        if not ok:
            failed.append(c)
    return failed


_EMPTY_CELL = re.compile(r"^[\s\-\u2013\u2014]*$")


def _cell_filled(c: Constraint, cells: Sequence[tuple[str, str]]) -> bool:
    """A column the question names ("Rockwell C", "Charpy impact strength") holds a value in the
    row, or the row does not answer it (an empty cell, a dash)."""
    named = [value for name, value in cells if name and (
        _entity_in(c.value, name) if c.kind == "entity" else bool(_stems(name) & {_stem(c.value)}))]
    return not named or any(not _EMPTY_CELL.match(value) for value in named)


def _entity_met(c: Constraint, scope: _Scope) -> bool:
    """A table row's own header named by the question must be the candidate row's; an owner
    ("Galaxy Gaming's") anywhere in the passage; any other entity near the candidate (or in the
    passage, with one of its words near the candidate)."""
    if any(_entity_stems(c.value) == head for head in scope.row_heads):
        return _entity_in(c.value, scope.text)
    if c.scope == "document":
        return _entity_in(c.value, scope.near) or _entity_in(c.value, scope.document)
    if _entity_in(c.value, scope.near):
        return True
    own = _entity_stems(c.value) - _generic_name_stems()  # "Cardiff" of "Cardiff City", not its "City"
    return bool(own & scope.near_stems) and _entity_in(c.value, scope.document)


# Words many names share: one of them near the candidate does not bring the name's other words there.
GENERIC_NAME_WORDS = """
    city county state states zone group team club company inc corp ltd llc plc university college school
    department division office national international united new north south east west central general
    fc association society institute bank hospital centre center
"""


@lru_cache(maxsize=1)
def _generic_name_stems() -> frozenset[str]:
    return frozenset(_stems(GENERIC_NAME_WORDS))


# ---------------------------------------------------------------------------------------------
# The verdict over the passages

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[^a-z])")


# What an answer itself must say: the year, period, date and number asked about, and the kind of
# answer (names may be paraphrased or left to the cited passage).
ANSWER_KINDS = ("year", "period", "month", "number", "answer")


def answer_verdict(question: str, answer: str, *, previous: str = "",
                   constraints: Sequence[Constraint] | None = None) -> Verdict:
    """The same check applied to a language model's answer (with the sentences it cites): it must
    hold the question's years, periods, months and numbers and the kind of answer asked for. An
    answer that says the documents do not cover the question is not answerable."""
    wanted = list(constraints) if constraints is not None else constraints_of(question, previous)
    text = re.sub(r"\[\d{1,3}\]", "", answer)
    if not text.strip() or "documents do not cover this" in text.lower():
        return Verdict(False, "the model said the documents do not cover this", wanted, checked="answer")
    own = [c for c in wanted if c.kind in ANSWER_KINDS]
    scope = _Scope(text=text, near=text, document=text, near_stems=_stems(text), row_heads=[])
    failed = _unmet(own, scope, question)
    if failed:
        labels = [c.label() for c in failed]
        return Verdict(False, f"the model's answer does not state {', '.join(labels)}", wanted, unmet=labels,
                       nearest=_short(text), checked="answer")
    met = [(c.label(), "the answer") for c in own]
    return Verdict(True, "the model's answer states " + (", ".join(c.label() for c in own) or "no constraint"),
                   wanted, met=met, nearest=_short(text), checked="answer")


def _is_row(line: str) -> bool:
    """A self-describing table row (ingestion.tables): `Title — RowHeader; Column: value`."""
    return TITLE_SEPARATOR in line and (": " in line or "; " in line)


def _is_raw_row(line: str) -> bool:
    """A table row kept as it is, `a | b | c` (no header found): read under the block's first row."""
    return " | " in line


def candidates(passages: Sequence[ScoredChunk]) -> list[Candidate]:
    """Every table row of the passages (a raw `a | b | c` row with its block's first row), and
    every sentence joined with the one after it; each with its neighbourhood."""
    return [c for n, passage in enumerate(passages, start=1) for c in _passage_candidates(n, passage.text)]


def _passage_candidates(n: int, text: str) -> list[Candidate]:
    lines = [line.strip() for line in text.splitlines()]
    lines = [line for line in lines if line and line != "[…]"]
    found: list[Candidate] = []
    block_head = heading = ""
    for i, line in enumerate(lines):
        if _is_row(line):
            cells = tuple((name, value) for name, _, value in (c.rpartition(": ") for c in
                                                               line.rsplit(TITLE_SEPARATOR, 1)[-1].split("; ")))
            found.append(Candidate(n=n, text=line, near=line, row=True, heading=heading, cells=cells))
            block_head = ""
            continue
        if _is_raw_row(line):
            if not block_head:
                block_head = line
                found.append(Candidate(n=n, text=line, near=line, row=True, heading=heading))
            else:
                joined = f"{block_head} {line}"
                names, values = block_head.split(" | "), line.split(" | ")
                cells = tuple((name, values[k].strip() if k < len(values) else "") for k, name in enumerate(names))
                found.append(Candidate(n=n, text=joined, near=joined, row=True, heading=heading, cells=cells))
            continue
        block_head = ""
        above, heading = heading, line if len(line) <= HEADING_CHARS else ""
        near = _neighbourhood(lines, i)
        sentences = [s.strip() for s in _SENTENCE_END.split(line) if len(s.strip()) > 1]
        following = ""
        if i + 1 < len(lines) and not _is_row(lines[i + 1]) and not _is_raw_row(lines[i + 1]):
            following = _SENTENCE_END.split(lines[i + 1])[0].strip()
        for k, sentence in enumerate(sentences):
            after = sentences[k + 1] if k + 1 < len(sentences) else following
            found.append(Candidate(n=n, text=f"{sentence} {after}".strip(), near=near, heading=above))
    return found


def _neighbourhood(lines: Sequence[str], i: int) -> str:
    """Line `i` of prose with the lines around it, up to NEAR_CHARS of them on each side (a PDF's
    text breaks a paragraph into many short lines; a heading or a label is a short line too),
    stopping at a table row."""
    before: list[str] = []
    j, size = i - 1, 0
    while j >= 0 and size < NEAR_CHARS and not _is_row(lines[j]) and not _is_raw_row(lines[j]):
        before.insert(0, lines[j])
        size += len(lines[j])
        j -= 1
    after: list[str] = []
    j, size = i + 1, 0
    while j < len(lines) and size < NEAR_CHARS and not _is_row(lines[j]) and not _is_raw_row(lines[j]):
        after.append(lines[j])
        size += len(lines[j])
        j += 1
    return " ".join([*before, lines[i], *after])


def _row_heads(text: str) -> list[set[str]]:
    """The stems of each self-describing row's own header (after its title, period and unit)."""
    heads = []
    for line in text.splitlines():
        if _is_row(line):
            head = line.split(TITLE_SEPARATOR)[-1].split("; ")[0]
            if ": " in head:  # "In millions of CHF: Zone NA", "Assortment: Bars"
                head = head.rsplit(": ", 1)[-1]
            heads.append(_stems(head.replace("-", " ")))
    return heads


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
    variants = {c.value: _variants(c.value, vocabulary) for c in wanted if c.kind == "term" and not c.soft}
    absent = [c for c in wanted if c.kind == "term" and not c.soft and not variants[c.value]]
    held = [c for c in wanted if (c.kind == "term" and not c.soft and variants[c.value])
            or (c.kind == "entity" and any(_entity_in(c.value, d) for d in documents))]
    if absent and len(held) < SPECIFIC_ENOUGH:
        return Verdict(False, f"no passage mentions {', '.join(repr(c.value) for c in absent)}", wanted,
                       unmet=[c.label() for c in absent])
    checked = [c for c in wanted if c not in absent]
    best = _best(question, checked, passages, documents, variants)
    if best is None:
        return Verdict(False, "no sentence or row to answer from", wanted)
    candidate, failed, enough = best
    where = f"[{candidate.n}] {_short(candidate.text)}"
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
    words = list(dict.fromkeys(w for document in documents for w in _WORD.findall(_fold(document))))
    stems = _tokenizer()(" ".join(words)) if words else []
    return dict(zip(words, stems, strict=True)) if len(stems) == len(words) else {w: _stem(w) for w in words}


def _variants(term: str, vocabulary: dict[str, str]) -> set[str]:
    """The stems in the passages that stand for `term`: its own; a word it begins (a compound:
    "promo" in "promocode", "phone" in "telephone"); words an edit from it (two for words of 9 letters or more; none
    under 7 letters: "tents" is not "tests")."""
    stem = _stem(term)
    stems = set(vocabulary.values())
    found = {stem} if stem in stems else set()
    word = _fold(term)
    if len(word) >= 5:
        found |= {other_stem for other, other_stem in vocabulary.items()
                  if (len(other) >= len(word) + 3 and other.startswith(word))
                  or (len(other) >= len(word) + 4 and other.endswith(word))}
    if len(word) >= 7:
        limit = 1 if len(word) < 9 else 2
        found |= {other_stem for other, other_stem in vocabulary.items()
                  if abs(len(other) - len(word)) <= limit and other[0] == word[0] and _within(word, other, limit)}
    return found


def _within(a: str, b: str, limit: int) -> bool:
    """Levenshtein distance of a and b at most `limit`."""
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        if min(current) > limit:
            return False
        previous = current
    return previous[-1] <= limit


def _soft(word: str) -> bool:
    """A verb, participle or adverb: the passages may say it in other words."""
    w = _fold(word)
    if w in VERBS or w in ADVERBS or (len(w) >= 5 and w.endswith("ed")) or (
            len(w) >= 7 and w.endswith(("ally", "ously", "ively", "ently", "antly", "edly", "fully", "ingly"))):
        return True
    for suffix in ("es", "s", "ing"):
        if w.endswith(suffix) and (w[: -len(suffix)] in VERBS or w[: -len(suffix)] + "e" in VERBS):
            return True
    return False


def _best(question: str, wanted: Sequence[Constraint], passages: Sequence[ScoredChunk], documents: Sequence[str],
          variants: dict[str, set[str]]) -> tuple[Candidate, list[Constraint], bool] | None:
    """The candidate that fails fewest constraints, earliest passage first, and whether its
    neighbourhood holds TERM_SHARE of the content terms' weight (a term's weight: its inverse
    frequency over the candidates' neighbourhoods, so the rare term of "the price of oranges"
    counts more than "price")."""
    heads = [_row_heads(p.text) for p in passages]
    # A document's file name and headings name what all of it is about.
    labels = [f"{p.filename} {' '.join(p.heading_path or [])}".replace("-", " ").replace("_", " ") for p in passages]
    label_stems = [_stems(label) for label in labels]
    found = candidates(passages)
    near_stems: dict[str, set[str]] = {}
    for candidate in found:
        if candidate.near not in near_stems:
            near_stems[candidate.near] = _stems(candidate.near)
    terms = [c for c in wanted if c.kind == "term" and not c.soft]
    holding = {c.value: sum(1 for stems in near_stems.values() if stems & variants.get(c.value, set())) for c in terms}
    weight = {t: math.log(1 + (len(near_stems) + 1) / (n + 1)) for t, n in holding.items()}
    total = sum(weight.values())
    best: tuple[tuple[int, int, float], Candidate, list[Constraint], bool] | None = None
    for candidate in found:
        i = candidate.n - 1
        scope = _Scope(text=candidate.text, near=f"{candidate.near}\n{labels[i]}", document=documents[i],
                       near_stems=near_stems[candidate.near] | label_stems[i], row_heads=heads[i], row=candidate.row,
                       heading=candidate.heading, cells=candidate.cells)
        failed = _unmet(wanted, scope, question, variants)
        hard = sum(1 for c in failed if c.kind != "term")
        missing = sum(weight[c.value] for c in failed if c.kind == "term" and c.value in weight)
        enough = total == 0 or (total - missing) >= TERM_SHARE * total - 1e-9
        key = (hard + (0 if enough else 1), hard, missing)
        if best is None or key < best[0]:
            best = (key, candidate, failed, enough)
            if key[0] == 0 and missing == 0:
                break
    return (best[1], best[2], best[3]) if best else None


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
