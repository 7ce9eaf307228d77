"""The answerability check: the question's constraints must be met by a sentence or table row of the
passages, or the answer is "The documents do not cover this." with the nearest passages as related."""

from __future__ import annotations

import pytest

import chat.llm as llm
from chat.answerability import Constraint, answer_verdict, constraints_of, unmet, verdict
from chat.models import Answer
from chat.selectors import answer_trace
from chat.services import NOT_COVERED, answer_create, conversation_create
from chat.trace import AnswerTrace
from retrieval.types import ScoredChunk
from tests.chat.fake_openai import Reply
from tests.retrieval.helpers import collection_with_texts

REPORT = {
    "annual-report.txt": (
        "Annual report of Harbour Logistics. "
        "Harbour Logistics revenue was 41 million francs in 2022. "
        "Harbour Logistics revenue was 46 million francs in 2023. "
        "The Geneva warehouse employed 120 people in 2023."
    ),
    "canteen.txt": "Canteen menu. Soup is served on Mondays and fish on Fridays.",
}


def labels(constraints: list[Constraint]) -> set[str]:
    return {c.label() for c in constraints}


def passage(text: str, filename: str = "report.txt") -> ScoredChunk:
    return ScoredChunk(chunk_id=1, document_id=1, collection_id=1, filename=filename, page_start=None,
                       page_end=None, heading_path=[], text=text)


def test_constraints_of_a_question_name_its_year_period_entity_and_kind_of_answer():
    found = constraints_of("What were Zone NA's sales for the full year 2023?")
    assert {"year '2023'", "period 'full year'", "entity 'Zone NA'", "term 'sales'"} <= labels(found)
    assert "answer 'quantity'" in labels(constraints_of("How many trucks were used?"))
    assert "answer 'date'" in labels(constraints_of("When was the delivery?"))
    assert "answer 'place'" in labels(constraints_of("Where will the summit be held?"))
    assert "answer 'person'" in labels(constraints_of("Who appoints the trustees?"))
    assert "year '2023'" in labels(constraints_of("What was Vodafone's revenue in FY 23?"))
    assert "entity 'SNB21-1'" in labels(constraints_of("What is the hardness of SNB21-1?"))


def test_a_follow_up_keeps_what_it_does_not_name_and_replaces_the_year():
    found = constraints_of("And in 2022?", previous="What was Zone EUR's profit in January–June 2023?")
    assert "year '2022'" in labels(found) and "year '2023'" not in labels(found)
    assert "entity 'Zone EUR'" in labels(found)


def test_unmet_says_which_constraints_a_sentence_or_row_fails():
    wanted = constraints_of("What were the costs in 2021?")
    assert [c.label() for c in unmet(wanted, "Table — 2022; Costs: -11,08")] == ["year '2021'"]
    assert unmet(wanted, "Table — 2021; Costs: -9,50") == []
    half = constraints_of("What were Zone NA's sales for the full year 2023?")
    row = 'Sheet "Segments" — January–June 2023 — Zone NA; Sales: 12553'
    assert [c.label() for c in unmet(half, row)] == ["period 'full year'"]


def test_the_verdict_over_table_rows_needs_the_row_of_the_entity_asked_about():
    rows = ("Products — PetCare; Sales: 9373\nProducts — Water; Sales: 1706\n"
            "Zones — Zone NA; Sales: 12553\nZones — Zone EUR; Sales: 9467")
    assert verdict("What were Zone NA's sales?", [passage(rows)]).answerable
    mixed = verdict("What were PetCare sales in Zone NA?", [passage(rows)])
    assert not mixed.answerable and mixed.unmet


def test_a_term_no_passage_holds_is_unmet_but_a_typing_error_is_not():
    text = "Galaxy Gaming. Telephone: (702) 939-3254. The headquarters are at 6480 Cameron Street, Las Vegas."
    fax = verdict("What is Galaxy Gaming's fax number?", [passage(text)])
    assert not fax.answerable and "fax" in fax.why
    assert verdict("What is Galaxy Gaming's phone number?", [passage(text)]).answerable
    assert verdict("Where are the headquaters of Galaxy Gaming?", [passage(text)]).answerable


def test_a_models_answer_must_state_the_year_asked_about():
    wanted = constraints_of("What was the revenue in 2022?")
    assert answer_verdict("What was the revenue in 2022?", "Revenue was 41 million in 2022 [1].",
                          constraints=wanted).answerable
    wrong = answer_verdict("What was the revenue in 2022?", "Revenue was 46 million in 2023 [1].", constraints=wanted)
    assert not wrong.answerable and "year '2022'" in wrong.unmet
    assert not answer_verdict("What was the revenue in 2022?", NOT_COVERED, constraints=wanted).answerable


def test_an_old_trace_without_answerability_still_reads():
    trace = AnswerTrace.from_json({"collection": "c", "passages": []})
    assert trace.answerability is None and trace.related is None
    again = AnswerTrace.from_json(AnswerTrace(answerability={"answerable": False, "why": "x"}, related=[]).to_json())
    assert again.answerability == {"answerable": False, "why": "x"} and again.related == []


@pytest.fixture
def extractive(settings):
    settings.LLM_BASE_URL = ""
    settings.LLM_BACKEND = "extractive"
    llm.backends_reset()
    yield
    llm.backends_reset()


@pytest.fixture
def conversation(owner):
    return conversation_create(owner=owner, collection=collection_with_texts("harbour", REPORT))


@pytest.mark.django_db
def test_a_year_the_document_does_not_cover_abstains_with_related_passages(extractive, conversation):
    result = answer_create(conversation=conversation, question="What was Harbour Logistics revenue in 2021?")
    assert result["abstained"] and result["answer"] == NOT_COVERED and result["citations"] == []
    assert result["related"] and result["related"][0]["filename"] == "annual-report.txt"
    trace = answer_trace(Answer.objects.get(pk=result["answer_id"]))
    assert trace.answerability is not None and not trace.answerability["answerable"]
    assert "year '2021'" in trace.answerability["unmet"]
    assert trace.abstained_because and "2021" in trace.abstained_because


@pytest.mark.django_db
def test_the_same_question_for_a_covered_year_answers_with_that_years_figure(extractive, conversation):
    result = answer_create(conversation=conversation, question="What was Harbour Logistics revenue in 2022?")
    assert not result["abstained"] and "41 million" in result["answer"] and result["citations"]
    assert result["related"] == []
    trace = answer_trace(Answer.objects.get(pk=result["answer_id"]))
    assert trace.answerability is not None and trace.answerability["answerable"]
    assert any(label == "year '2022'" for label, _ in trace.answerability["met"])


@pytest.mark.django_db
def test_an_entity_the_documents_do_not_name_abstains_though_the_topic_words_match(extractive, conversation):
    result = answer_create(conversation=conversation, question="How many people did the Zurich warehouse employ in 2023?")
    assert result["abstained"] and result["answer"] == NOT_COVERED
    trace = answer_trace(Answer.objects.get(pk=result["answer_id"]))
    assert "Zurich" in trace.answerability["why"]
    named = answer_create(conversation=conversation, question="How many people did the Geneva warehouse employ in 2023?")
    assert not named["abstained"] and "120" in named["answer"]


@pytest.mark.django_db
def test_an_llm_answer_about_another_year_is_replaced_by_not_covered(fake_llm, conversation):
    fake_llm.replies.append(Reply(text="Harbour Logistics revenue was 46 million francs in 2023 [1]."))
    result = answer_create(conversation=conversation, question="What was Harbour Logistics revenue in 2022?")
    assert result["backend"] == "openai" and result["abstained"] and result["answer"] == NOT_COVERED
    trace = answer_trace(Answer.objects.get(pk=result["answer_id"]))
    assert trace.answerability["checked"] == "answer" and "year '2022'" in trace.answerability["unmet"]
    assert trace.raw_answer.startswith("Harbour Logistics revenue was 46")


@pytest.mark.django_db
def test_an_unanswerable_question_never_reaches_the_llm(fake_llm, conversation):
    result = answer_create(conversation=conversation, question="What was Harbour Logistics revenue in 2021?")
    assert result["abstained"] and fake_llm.requests == []
