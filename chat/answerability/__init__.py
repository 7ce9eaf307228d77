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

The package: `constraints` reads the question, `candidates` cuts the passages into sentences and
rows, `matching` tests a candidate against each constraint, `decide` picks the best candidate and
says why; `words` holds the vocabulary they share.
"""

from __future__ import annotations

from chat.answerability.constraints import Constraint, constraints_of
from chat.answerability.decide import Verdict, answer_verdict, verdict
from chat.answerability.matching import unmet

__all__ = ["Constraint", "Verdict", "answer_verdict", "constraints_of", "unmet", "verdict"]
