"""Claim-level citations: a citation is a quote with its own number, and a sentence keeps a
citation only when the quote supports it."""

from __future__ import annotations

from chat.citations import check_citations
from chat.claims import claims
from chat.llm import ExtractiveBackend
from chat.rendering import answer_html
from retrieval.types import ScoredChunk

REPORT = ("Zone NA sales were 12553 in January-June 2023. Zone EUR sales were 9467 in the same period. "
          "The board met in Vevey on 20 July 2023.")
MEMO = "The canteen opens at eight. Parking permits are renewed in January."


def passage(text: str, chunk_id: int = 1, filename: str = "report.txt") -> ScoredChunk:
    return ScoredChunk(chunk_id=chunk_id, document_id=chunk_id, collection_id=1, filename=filename, page_start=None,
                       page_end=None, heading_path=[], text=text)


def test_two_sentences_with_different_quotes_get_different_numbers():
    check = check_citations("Zone NA sales were 12553 in January-June 2023 [1]. "
                            "Zone EUR sales were 9467 in the same period [1].", [passage(REPORT)])
    assert [c.n for c in check.citations] == [1, 2]
    assert check.citations[0].quote == "Zone NA sales were 12553 in January-June 2023."
    assert check.citations[1].quote == "Zone EUR sales were 9467 in the same period."
    assert check.text == ("Zone NA sales were 12553 in January-June 2023 [1]. "
                          "Zone EUR sales were 9467 in the same period [2].")
    assert REPORT[check.citations[1].start : check.citations[1].end] == check.citations[1].quote


def test_the_same_quote_cited_twice_keeps_its_number():
    check = check_citations("The board met in Vevey [2]. It met on 20 July 2023 in Vevey [2].",
                            [passage(MEMO, 2, "memo.txt"), passage(REPORT)])
    assert [c.quote for c in check.citations] == ["The board met in Vevey on 20 July 2023."]
    assert check.text == "The board met in Vevey [1]. It met on 20 July 2023 in Vevey [1]."


def test_a_sentence_whose_quote_lacks_its_number_loses_the_citation():
    check = check_citations("Zone NA sales were 12138 in January-June 2023 [1]. "
                            "Zone EUR sales were 9467 in the same period [1].", [passage(REPORT)])
    assert [c.quote for c in check.citations] == ["Zone EUR sales were 9467 in the same period."]
    assert check.text == "Zone NA sales were 12138 in January-June 2023. Zone EUR sales were 9467 in the same period [1]."
    assert check.unsupported == ["Zone NA sales were 12138 in January-June 2023."]
    assert "12138" in check.claims[0].why and not check.claims[0].supported


def test_a_sentence_whose_quote_lacks_its_name_loses_the_citation():
    check = check_citations("The board met in Lausanne on 20 July 2023 [1].", [passage(REPORT)])
    assert check.citations == [] and check.claims[0].supported is False
    assert "lausanne" in check.claims[0].why


def test_a_sentence_without_a_citation_is_unsupported():
    check = check_citations("Zone NA sales were 12553 in January-June 2023 [1]. Sales grew strongly.", [passage(REPORT)])
    assert check.unsupported == ["Sales grew strongly."]


def test_markers_a_model_echoes_from_the_document_stay_text():
    # Two passages were given: [7] and [8] name none of them, they are the article's own references.
    article = "ACE2 is the receptor of the virus [7] [8]. It is expressed in the lung."
    check = check_citations("ACE2 is the receptor of the virus [7] [8] [1].", [passage(article), passage(MEMO, 2)])
    assert [c.n for c in check.citations] == [1]
    html = answer_html(check.text, [c.n for c in check.citations])
    assert html.count('class="cite"') == 1 and 'data-n="1"' in html
    assert "[\u20607]" in html and "[\u20608]" in html  # shown as the document's text, not as links


def test_an_extractive_answer_keeps_a_documents_reference_numbers_as_text():
    article = "The spike protein binds the ACE2 receptor [7] [8]. Masks reduce transmission."
    raw = "".join(ExtractiveBackend().stream(question="Which receptor does the spike protein bind?",
                                            passages=[passage(article)], messages=[]))
    check = check_citations(raw, [passage(article)])
    assert [c.n for c in check.citations] == [1] and check.citations[0].quote.startswith("The spike protein")
    html = answer_html(check.text, [c.n for c in check.citations])
    assert html.count('class="cite"') == 1 and 'data-n="7"' not in html and 'data-n="8"' not in html


def test_a_right_fact_with_the_wrong_number_cites_the_passage_that_supports_it():
    check = check_citations("The board met in Vevey on 20 July 2023 [1].", [passage(MEMO, 2, "memo.txt"), passage(REPORT)])
    assert check.text == "The board met in Vevey on 20 July 2023 [1]."
    assert [(c.filename, c.quote, c.passage) for c in check.citations] == [
        ("report.txt", "The board met in Vevey on 20 July 2023.", 2)]
    assert check.claims[0].supported and "supported by passage [2] instead" in check.claims[0].why
    assert check.removed == 0


def test_a_fact_no_passage_supports_stays_unsupported_whatever_its_number():
    check = check_citations("The board met in Lausanne on 20 July 2023 [1].", [passage(MEMO, 2, "memo.txt"), passage(REPORT)])
    assert check.citations == [] and check.unsupported == ["The board met in Lausanne on 20 July 2023."]


def test_markers_without_words_are_no_claim():
    check = check_citations("[1] [2][1]", [passage(REPORT), passage(MEMO, 2, "memo.txt")])
    assert check.citations == [] and check.text == ""
    assert check.claims[0].why == "only citation markers, no claim" and not check.claims[0].supported


def test_a_supported_sentence_the_model_did_not_cite_is_cited_where_it_is_supported():
    check = check_citations("Zone EUR sales were 9467 in the same period [2]. The board met in Vevey on 20 July 2023.",
                            [passage(MEMO, 2, "memo.txt"), passage(REPORT)])
    assert check.text == ("Zone EUR sales were 9467 in the same period [1]. "
                          "The board met in Vevey on 20 July 2023 [2].")
    assert [c.quote for c in check.citations] == ["Zone EUR sales were 9467 in the same period.",
                                                  "The board met in Vevey on 20 July 2023."]
    assert check.claims[1].supported and "supported by passage [2]" in check.claims[1].why
    assert check.claims[1].markers == []  # the model's own markers, as it wrote them


def test_a_documents_own_reference_number_on_a_supported_fact_adds_a_real_citation():
    article = "ACE2 is the receptor of the virus. It is expressed in the lung."
    check = check_citations("ACE2 is the receptor of the virus [10].", [passage(MEMO, 2), passage(article)])
    assert [c.passage for c in check.citations] == [2]
    html = answer_html(check.text, [c.n for c in check.citations])
    assert html.count('class="cite"') == 1 and "[\u206010]" in html


def test_an_uncited_list_number_or_bare_figure_is_not_cited_for_the_model():
    check = check_citations("Sales were: 1. 12553 2. 9467", [passage(REPORT)])
    assert check.citations == [] and "[" not in check.text


def test_an_uncited_sentence_no_passage_supports_stays_unsupported():
    check = check_citations("The board met in Lausanne.", [passage(REPORT)])
    assert check.citations == [] and check.text == "The board met in Lausanne."
    assert check.claims[0].why == "no citation"


def test_a_marker_standing_for_the_answers_value_is_no_claim():
    for answer in ("The most common species among adults is [1] [2][3].", "Zone NA sales grew by [1] percent.",
                   "Zone NA sales in January-June 2023 were [1] [2].", "Zone NA sales were [1] million CHF."):
        check = check_citations(answer, [passage(REPORT), passage(MEMO, 2, "memo.txt")])
        assert check.citations == [] and not check.claims[0].supported, answer
        assert "stands where the answer's value should be" in check.claims[0].why
    quoted = check_citations("Ready when you are [1].", [passage("Online events. Ready when you are. Sign up.")])
    assert [c.quote for c in quoted.citations] == ["Ready when you are."]  # the document's own sentence
    for answer in ("According to [1], Zone NA sales were 12553 in January-June 2023.",
                   "Zone NA sales in January-June 2023 were [1] 12553.",
                   "As [1] the report says, Zone NA sales were 12553 in January-June 2023."):
        cites = check_citations(answer, [passage(REPORT)])
        assert [c.passage for c in cites.citations] == [1], answer


def test_an_abbreviations_full_stop_ends_no_claim():
    found = claims("The phone number of Galaxy Gaming, Inc. is (702) 939-3254 [1]. Streptococcus sp. makes it [2].\nNext")
    assert [c.body for c in found] == ["The phone number of Galaxy Gaming, Inc. is (702) 939-3254.",
                                       "Streptococcus sp. makes it.", "Next"]
