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
    terms = {c.value for c in constraints_of("When does a licence under the policy end if I sue over a patent?")
             if c.kind == "term"}
    assert {"licence", "policy", "patent"} <= terms and not terms & {"under", "over"}  # prepositions name nothing


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


def test_a_section_number_is_no_amount_and_an_adjective_is_no_measure():
    money = constraints_of("How much money does the Act put into the fund?")
    assert "answer 'money'" in labels(money)
    assert "answer 'money'" in labels(unmet(money, "Sec. 301. The Act puts money into the fund."))
    assert unmet(money, "The Act puts $ 5,000,000 of money into the fund.") == []
    count = constraints_of("How many agents does the Act add?")
    assert "answer 'quantity'" in labels(unmet(count, "Sec. 301. The Act adds agents (see chapter 13 and § 58)."))
    population = constraints_of("What is the population of Canada?")
    assert "measure 'population'" in labels(unmet(population, "Canada is most populous near the resort at 6090 feet."))
    assert unmet(population, "Canada has a population of 38 million.") == []


def test_a_measure_that_names_a_compound_asks_for_the_compound():
    text = "Project Rowan. Project Rowan has the budget code BX-9552."
    assert verdict("What is the budget code of project Rowan?", [passage(text)]).answerable
    assert not verdict("What was the budget of project Rowan?", [passage(text)]).answerable  # no amount
    assert "measure 'density'" in labels(constraints_of("What is the population density of Zurich?"))
    assert "measure 'mtu'" in labels(constraints_of("What is the maximum MTU value for the port?"))


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
    # A document's reference number kept as text ("[\u206032]") is no figure of the answer.
    assert not answer_verdict("How much did deaths fall?", "Deaths fell by [\u206032] percent [1].").answerable


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


def test_a_how_many_answer_names_what_it_counts_in_the_same_sentence():
    text = ("The depot stores tents and blankets. Its roof was repaired last week. "
            "It received 40 pallets in 2023.")
    assert not verdict("How many tents did the depot receive?", [passage(text)]).answerable
    counted = verdict("How many pallets did the depot receive?", [passage(text)])
    assert counted.answerable and ("measure 'pallets'", counted.nearest) in counted.met


def test_a_year_a_date_or_a_code_is_no_count():
    text = "Roberts joined Norwich on 26 June 1993 and celebrated his goals with the fans of the SNB22-3 stand."
    refused = verdict("How many goals did Roberts score for Norwich?", [passage(text)])
    assert not refused.answerable and "answer 'quantity'" in refused.unmet
    assert verdict("How many goals did Roberts score for Norwich?",
                   [passage("Roberts scored 61 goals for Norwich.")]).answerable


def test_an_amount_of_money_has_its_currency_beside_it():
    text = "The laptops cost less than expected. 4 laptops were delivered on Monday."
    assert not verdict("How much did the laptops cost?", [passage(text)]).answerable
    assert verdict("How much did the laptops cost?", [passage("The laptops cost $1,200 in total.")]).answerable


def test_what_was_a_measure_asks_for_a_number_with_the_measure():
    text = "Harbour Logistics reported strong revenue growth. Harbour Logistics moved to Geneva in 2019."
    refused = verdict("What was Harbour Logistics revenue in 2019?", [passage(text)])
    assert not refused.answerable
    assert verdict("What was Harbour Logistics revenue in 2019?",
                   [passage("Harbour Logistics revenue was 38 million francs in 2019.")]).answerable


def test_an_empty_cell_of_the_column_asked_about_answers_nothing():
    rows = "Hardness of grade SNB22-3 — Grade: SNB22-3; Brinell: 293-375; Rockwell C: -"
    refused = verdict("What is the Rockwell C hardness of SNB22-3?", [passage(rows)])
    assert not refused.answerable and "entity 'Rockwell C'" in refused.unmet
    assert verdict("What is the Brinell hardness of SNB22-3?", [passage(rows)]).answerable


def test_a_bound_on_a_number_must_not_be_the_opposite_one():
    text = "The student activities fee is 95 dollars for students enrolled in 19 units or more."
    assert not verdict("What is the student activities fee for students enrolled in fewer than 19 units?",
                       [passage(text)]).answerable
    assert verdict("What is the student activities fee for students enrolled in more than 19 units?",
                   [passage(text)]).answerable


def test_a_phone_number_asked_for_needs_one():
    text = "Best Regards, Mallori Harrell, Unstructured Technologies. The logo is attached to this email."
    assert not verdict("What is Mallori Harrell's phone number?", [passage(text)]).answerable
    assert verdict("What is Mallori Harrell's phone number?",
                   [passage(text + " Mallori Harrell, phone: (702) 939-3254.")]).answerable


def test_a_season_asked_about_must_be_the_candidates():
    text = "Staff take summer holidays in turn. The office is in Boston. The spring safety campaign starts on 1 March."
    assert not verdict("When does the summer safety campaign start?", [passage(text)]).answerable
    assert verdict("When does the spring safety campaign start?", [passage(text)]).answerable
    # A capitalised season inside a sentence is a name, not a time.
    assert not verdict("When does the spring safety campaign start?",
                       [passage("The safety campaign starts on 1 March, said the office in Silver Spring.")]).answerable


def test_names_that_stand_for_one_another_meet_each_other():
    text = "The most common symptoms of 2019-nCoV infection are fever, cough and fatigue."
    assert verdict("What are the most common symptoms of COVID19?", [passage(text)]).answerable
    usa = verdict("When was the first case confirmed in the USA?",
                  [passage("The first case in the United States was confirmed on 20 January 2020.")])
    assert usa.answerable and ("entity 'USA'", usa.nearest) in usa.met


def test_one_generic_word_of_a_name_does_not_bring_the_name():
    filler = "He was known for his heading and his work rate in training. " * 8  # more than NEAR_CHARS
    text = f"Two Norwich City players scored in the final.\n{filler}\nCardiff City were relegated that season."
    refused = verdict("How many Cardiff City players scored in the final?", [passage(text)])
    assert not refused.answerable and "entity 'Cardiff City'" in refused.unmet


@pytest.mark.django_db
def test_the_review_page_shows_why_an_answer_abstained(extractive, conversation, staff):
    from django.test import Client

    result = answer_create(conversation=conversation, question="What was Harbour Logistics revenue in 2021?")
    client = Client()
    client.force_login(staff)
    page = client.get(f"/review/answers/{result['answer_id']}/").content.decode()
    assert "Answerability (passages):</strong> abstained" in page
    assert "Unmet: year &#x27;2021&#x27;" in page


@pytest.mark.django_db
def test_an_llm_answer_of_markers_only_is_no_answer_and_the_trace_says_why(fake_llm, conversation):
    fake_llm.replies.append(Reply(text="[1] [2][1]"))
    result = answer_create(conversation=conversation, question="What was Harbour Logistics revenue in 2022?")
    assert result["abstained"] and result["answer"] == NOT_COVERED and result["citations"] == []
    trace = answer_trace(Answer.objects.get(pk=result["answer_id"]))
    assert trace.abstained_because == "the answer held only citation markers"


@pytest.mark.django_db
def test_an_llm_answer_no_passage_supports_abstains_for_that_reason_not_the_models(fake_llm, conversation):
    fake_llm.replies.append(Reply(text="Harbour Logistics revenue was 99 million francs in 2022 [1]."))
    result = answer_create(conversation=conversation, question="What was Harbour Logistics revenue in 2022?")
    assert result["abstained"] and result["answer"] == NOT_COVERED
    trace = answer_trace(Answer.objects.get(pk=result["answer_id"]))
    assert trace.abstained_because == "no sentence of the answer is supported by the passage it cites"
    assert trace.claims and not trace.claims[0].supported and "99" in trace.claims[0].why


def test_a_which_year_question_needs_a_year_not_any_date_word():
    text = "The Harbour Cup has been held every spring since the club was founded. Harbour won it twice."
    assert not verdict("In which year did Harbour last win the Harbour Cup?", [passage(text)]).answerable
    assert verdict("In which year did Harbour last win the Harbour Cup?",
                   [passage("Harbour last won the Harbour Cup in 2019.")]).answerable


def test_a_rate_needs_a_rate_of_its_unit():
    text = "The Delta field began production in 2019. Its reserves are estimated at 12 billion cubic metres."
    assert not verdict("How much gas does the Delta field produce per day?", [passage(text)]).answerable
    assert verdict("How much gas does the Delta field produce per day?",
                   [passage("The Delta field produces 1.2 billion cubic feet of gas per day.")]).answerable


def test_a_currency_the_question_names_must_be_the_answers():
    table = "Item: Bananas; Price: 1.89; # In stock: 6"
    assert verdict("What is the price of bananas?", [passage(table, "prices.md")]).answerable
    assert not verdict("What is the price of bananas in euros?", [passage(table, "prices.md")]).answerable
    assert verdict("What is the price of bananas in euros?",
                   [passage("Item: Bananas; Price: €1.89; # In stock: 6", "prices.md")]).answerable


def test_what_costs_stands_before_the_verb_and_a_price_column_answers_a_cost():
    rows = "Item: Juicy Apples; Price: 1.99; # In stock: 739\nItem: Bananas; Price: 1.89; # In stock: 6"
    assert verdict("How much do the juicy apples cost?", [passage(rows, "prices.md")]).answerable
    costs = "Year: 2022; Month: 1; Revenue: 123; Costs: 45"
    assert not verdict("How much did the delivered laptops cost?", [passage(costs, "budget.csv")]).answerable


def test_a_names_words_must_stand_together():
    text = ("Roberts played for Leicester City from 1993 to 1996. In 2002 he was made an inaugural member "
            "of the Norwich City F.C. Hall of Fame.")
    assert not verdict("When was Roberts elected to the Leicester City Hall of Fame?", [passage(text)]).answerable
    assert verdict("When was Roberts elected to the Norwich City Hall of Fame?", [passage(text)]).answerable

