"""The extractive answerer leads with what answers the question (chat.extractive)."""

from __future__ import annotations

import pytest

import chat.llm as llm
from chat import extractive
from chat.claims import claims
from chat.markers import MARKER, plain
from chat.services import answer_create, conversation_create
from retrieval.types import ScoredChunk
from tests.retrieval.helpers import collection_with_texts

pytestmark = pytest.mark.django_db


def passage(text: str, *, n: int = 1, filename: str = "doc.txt") -> ScoredChunk:
    return ScoredChunk(chunk_id=n, document_id=n, collection_id=1, filename=filename, page_start=None,
                       page_end=None, heading_path=[], text=text)


def lead(question: str, *passages: ScoredChunk) -> str:
    choices = extractive.select(question, passages)
    assert choices, "no answer"
    return choices[0].text


@pytest.fixture
def extractive_only(settings):
    settings.LLM_BASE_URL = ""
    settings.LLM_BACKEND = "extractive"
    llm.backends_reset()
    yield
    llm.backends_reset()


PARTY = ("Summer party\n\nHi all, get ready for the summer party on the roof terrace!\n\n"
         "There will be a barbecue, a live band, a quiz and more.\n\nPlease bring your badge.")
BARBECUE = ("Hi all, the team barbecue is back!\n\nIt begins on 14 June at 6 pm, by the river.\n\n"
            "Please bring your badge.")


@pytest.mark.parametrize(("question", "answer"), [
    ("What activities are planned for the summer party?", "There will be a barbecue, a live band, a quiz and more."),
    ("When is the team barbecue?", "It begins on 14 June at 6 pm, by the river."),
])
def test_the_answer_in_the_sentence_after_the_matched_one_leads(extractive_only, owner, question, answer):
    texts = {"party.txt": PARTY if "party" in question else BARBECUE, "parking.txt": "The car park is open on weekdays."}
    collection = collection_with_texts("events", texts)
    result = answer_create(conversation=conversation_create(owner=owner, collection=collection), question=question)
    assert not result["abstained"]
    first = claims(result["answer"])[0]
    assert first.body == answer and first.markers == [1]
    assert result["citations"][0]["filename"] == "party.txt"


FORM = ("FORM 10-K\n\nAcme Widgets, Inc.\n(Exact name of registrant as specified in its charter)\n"
        "Delaware | 12-3456789\n"
        "(State or other jurisdiction of incorporation or organization) | (I.R.S. Employer Identification No.)\n"
        "12 Harbour Road, Bristol, BS1 4QA\n(Address of principal executive offices)\n"
        "+44 117 496 0000\n(Registrant’s telephone number)\n\n"
        "Acme Widgets makes widgets. Its principal executive officer is Jane Doe.")


def test_a_where_question_over_a_form_label_leads_with_the_line_holding_the_place():
    assert lead("Where are Acme Widgets' principal executive offices?", passage(FORM)) == "12 Harbour Road, Bristol, BS1 4QA"


def test_a_form_label_itself_never_leads():
    answer = lead("What is Acme Widgets' telephone number?", passage(FORM))
    assert answer == "+44 117 496 0000"


TABLE = ('Regional results\n\n'
         'Table "Regional results 2023" — Region: North; Sales: 120; Profit: 30\n'
         'Table "Regional results 2023" — Region: South; Sales: 95; Profit: 12\n'
         'Table "Regional results 2023" — Region: East; Sales: 70; Profit: 9\n\n'
         'Table "Headcount 2023" — Region: South; Staff: 40; Offices: 3\n\n'
         'Profit in the South fell because of the floods.')


def test_a_table_question_leads_with_the_row_matching_its_row_and_column_headers():
    answer = lead("What was the profit of the South region in 2023?", passage(TABLE))
    assert answer == 'Table "Regional results 2023" — Region: South; Sales: 95; Profit: 12'
    assert lead("How many staff does the South region have?", passage(TABLE)) == (
        'Table "Headcount 2023" — Region: South; Staff: 40; Offices: 3')


def test_a_documents_own_bracketed_number_is_not_a_marker(extractive_only, owner):
    text = ("Travel policy.\n\nHotel nights in Zurich are reimbursed up to 240 francs [7], breakfast included.\n\n"
            "Flights under six hours are booked in economy class.")
    collection = collection_with_texts("travel", {"travel.txt": text})
    result = answer_create(conversation=conversation_create(owner=owner, collection=collection),
                           question="How much is a hotel night in Zurich reimbursed?")
    assert not result["abstained"]
    first = claims(result["answer"])[0]
    assert first.markers == [1]  # "[7]" is the document's, not a citation
    assert [m.group(1) for m in MARKER.finditer(result["answer"])] == ["1"] * len(MARKER.findall(result["answer"]))
    assert plain(first.body) == "Hotel nights in Zurich are reimbursed up to 240 francs [7], breakfast included."
    assert [c["n"] for c in result["citations"]] == [1]


def test_every_claim_is_verbatim_in_its_passage_and_carries_its_marker():
    text = "Galaxy is run by Mr. J. Smith. Its offices are at 6 Main Street Ste. 305 in Springfield.\nA | B"
    pieces = "".join(extractive.cited(extractive.select("Where are Galaxy's offices?", [passage(text)])))
    found = claims(pieces)
    assert found and all(c.markers == [1] for c in found)
    assert all(plain(c.body).rstrip(".") in text for c in found)


def test_nothing_from_an_unrelated_document_supports_the_answer():
    answers = passage("The cafeteria opens at 8 am. The cafeteria closes at 3 pm on Fridays.", n=1, filename="cafe.txt")
    unrelated = passage("Our founder opened the first office in 1990 and the company grew fast.", n=2, filename="history.txt")
    choices = extractive.select("When does the cafeteria open?", [answers, unrelated])
    assert choices[0].text == "The cafeteria opens at 8 am."
    assert all(c.n == 1 for c in choices)


def test_a_follow_up_is_read_with_the_earlier_question():
    rows = passage('Table "Sales" — Region: North; 2022: 110; 2023: 120\nTable "Sales" — Region: South; 2022: 90; 2023: 95')
    choices = extractive.select("And the South?", [rows], context="What were North sales in 2023? And the South?")
    assert choices[0].text.endswith("Region: South; 2022: 90; 2023: 95")


def test_the_preference_hook_decides_between_candidates():
    text = "The audit took place in 2021. The audit took place again in 2022."
    prefer = lambda question: (lambda unit: 2.0 if "2022" in unit else 1.0)  # noqa: E731
    assert extractive.select("When did the audit take place?", [passage(text)], prefer=prefer)[0].text == (
        "The audit took place again in 2022.")
