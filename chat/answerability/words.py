"""The vocabulary of the answerability check: word lists, the patterns of years, periods, numbers,
dates and places, and the folding and stemming every comparison goes through."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache

from ingestion.tables import TITLE_SEPARATOR
from ingestion.tokenize import Tokenizer

NUMBER_WORDS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40,
    "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100, "thousand": 1000, "million": 10**6, "billion": 10**9, "dozen": 12,
}


MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
          "november", "december")


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


YEAR = re.compile(r"(?<![\d.,])(1[89]\d\d|20\d\d)(?![\d.,]\d)")


SHORT_YEAR = re.compile(r"\b(?:FY|H[12]|Q[1-4])\s?'?(\d\d)\b|['\u2019](\d\d)\b", re.IGNORECASE)


YEAR_RANGE = re.compile(r"\b(1[89]\d\d|20\d\d)\s*(?:[-\u2013\u2014]|to|through|until|and)\s*(1[89]\d\d|20\d\d|\d\d)\b")


NUMBER = re.compile(r"(?<![\w.])[-+]?\d[\d,]*(?:\.\d+)?(?![\w])")


CODE = re.compile(r"\b(?=[A-Za-z0-9-]*[A-Za-z])(?=[A-Za-z0-9-]*\d)[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*\b")


WORD = re.compile(r"[^\W_]+(?:['\u2019][^\W_]+)*", re.UNICODE)


PERIODS = {
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


MONEY_ASK = re.compile(r"\bhow much\b.*\b(?:cost|costs|pay|paid|charge|charged|price|priced|worth|spend|spent|fee|fees|money)\b"
                        r"|\b(?:what|which)\b.*\b(?:price|cost|fee|fees|salary|wage)\b", re.IGNORECASE)


_MONEY = re.compile(r"[$€£¥]|\b(?:USD|EUR|CHF|GBP|JPY|CAD|AUD|dollars?|euros?|francs?|pounds?|cents?|yen|price|"
                    r"prices|cost|costs|fee|fees|paid|charge|charges|free of charge|free|salary|wage)\b", re.IGNORECASE)


DATE = re.compile(r"\b(?:1[89]\d\d|20\d\d)\b|\b(?:" + "|".join(MONTHS + WEEKDAYS) + r")\b"
                   r"|\b(?:jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec)\.?\s+\d|\b\d{1,2}[/.]\d{1,2}[/.]\d{2,4}\b"
                   r"|\b\d{1,2}:\d\d\b|\b(?:today|tomorrow|yesterday|tonight|noon|midnight|morning|afternoon|evening|"
                   r"weekends?|weeks?|months?|years?|decades?|century|centuries|hours?|minutes?|spring|summer|autumn|fall|"
                   r"winter|dates?|days?|since|until|after|before|during|ago|every|once|twice|annually|daily|weekly|"
                   r"monthly|yearly)\b", re.IGNORECASE)


PLACE = re.compile(r"\b(?:street|st|avenue|ave|road|rd|suite|ste|floor|room|building|city|town|country|state|"
                    r"province|county|region|office|offices|headquarters|venue|hall|center|centre|campus|site|"
                    r"located|based|address|place|places|area|where|abroad|online|remote|remotely)\b|\b\d{5}\b",
                    re.IGNORECASE)


def fold(text: str) -> str:
    """Lower case, accents and typographic quotes and dashes folded, whitespace collapsed."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = text.replace("\u2019", "'").replace("\u2018", "'")
    for dash in _DASHES:
        text = text.replace(dash, "-")
    return " ".join(text.lower().split())


@lru_cache(maxsize=1)
def stem_tokenizer() -> Tokenizer:
    # The stems alone (no stop-words dropped): fixed, so the check does not move with BM25 settings.
    return Tokenizer(stemmer="english", stopwords="none")


def stems_of(text: str) -> set[str]:
    return set(stem_tokenizer()(fold(text)))


def word_stems(words: Sequence[str]) -> list[tuple[str, str]]:
    """Each (folded) word with its stem, stemmed in one call (word by word where the tokenizer
    splits a word in two)."""
    stems = stem_tokenizer()(" ".join(words)) if words else []
    return list(zip(words, stems, strict=True)) if len(stems) == len(words) else [(w, stem_of(w)) for w in words]


def stem_of(word: str) -> str:
    stems = stem_tokenizer()(fold(word))
    return stems[0] if stems else fold(word)


AUXILIARIES = frozenset("do does did has have had will would can could should may might must".split())


COPULAS = frozenset("is are was were".split())


PREPOSITIONS = frozenset("""of for in to with by on at from about against among between within into across
    under over per via""".split())


DETERMINERS = frozenset("the a an this that these those its their our".split())


# Numbers that count nothing: a year or decade, the day of a date, a number inside a code ("node-2",
# "SNB22-3"), a page, a reference marker ("[19]"), an item's numbering ("4.", "b)").
MONTH_NAMES = "|".join([*MONTHS, "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec"])


LESS = r"(?:fewer|less|lower|under|below|at most|up to|no more)"


MORE = r"(?:more|greater|higher|over|above|at least|exceeding|in excess of)"


_UNTITLED_ROW = re.compile(r"^[^;:]{1,80}: [^;]*(?:; [^;:]{1,80}: [^;]*)+$")


def is_row(line: str) -> bool:
    """A self-describing table row (ingestion.tables): `Title — RowHeader; Column: value`, or one
    of a table without a title: `Column: value; Column: value`."""
    return (TITLE_SEPARATOR in line and (": " in line or "; " in line)) or _UNTITLED_ROW.match(line) is not None


# Nouns of one measure: a question's "cost" is a table's "Price" ("how much do the apples cost").
MEASURE_SYNONYMS: tuple[frozenset[str], ...] = tuple(frozenset(group) for group in (
    {"cost", "costs", "price", "prices", "fee", "fees", "charge", "charges"},
    {"revenue", "revenues", "sales", "turnover"},
    {"profit", "profits", "earnings", "income"},
    {"salary", "salaries", "wage", "wages", "pay"},
    {"headcount", "employees", "staff", "workforce"},
))


def measure_names(measure: str) -> set[str]:
    """The measure's noun and the other nouns of the same measure."""
    folded = measure.lower()
    return {folded}.union(*(group for group in MEASURE_SYNONYMS if folded in group))


def is_raw_row(line: str) -> bool:
    """A table row kept as it is, `a | b | c` (no header found): read under the block's first row."""
    return " | " in line


def within_edits(a: str, b: str, limit: int) -> bool:
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


def is_soft(word: str) -> bool:
    """A verb, participle or adverb: the passages may say it in other words."""
    w = fold(word)
    if w in VERBS or w in ADVERBS or (len(w) >= 5 and w.endswith("ed")) or (
            len(w) >= 7 and w.endswith(("ally", "ously", "ively", "ently", "antly", "edly", "fully", "ingly"))):
        return True
    for suffix in ("es", "s", "ing"):
        if w.endswith(suffix) and (w[: -len(suffix)] in VERBS or w[: -len(suffix)] + "e" in VERBS):
            return True
    return False


def shortened(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# Small words inside a name ("Hall of Fame", "Bank of America", "Procter & Gamble"; not "and", which joins two names).
NAME_CONNECTORS = frozenset({"of", "the", "&", "de", "du", "von", "van"})


# A currency: how a question names it, and how a text writes it.
CURRENCIES: dict[str, tuple[re.Pattern[str], re.Pattern[str]]] = {
    name: (re.compile(ask, re.IGNORECASE), re.compile(written, re.IGNORECASE)) for name, (ask, written) in {
        "euro": (r"\beuros?\b|\bEUR\b|€", r"€|\bEUR\b|\beuros?\b"),
        "dollar": (r"\bdollars?\b|\bUSD\b|\bUS\$", r"\$|\bUSD\b|\bdollars?\b"),
        "franc": (r"\bfrancs?\b|\bCHF\b", r"\bCHF\b|\bfrancs?\b|\bSFr\b"),
        "pound": (r"\bpounds? sterling\b|\bGBP\b|£", r"£|\bGBP\b|\bpounds?\b|\bsterling\b"),
        "yen": (r"\byen\b|\bJPY\b|¥", r"¥|\bJPY\b|\byen\b"),
        "rupee": (r"\brupees?\b|\bINR\b|₹", r"₹|\bINR\b|\brupees?\b|\bRs\.?"),
    }.items()
}
