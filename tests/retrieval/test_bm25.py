from __future__ import annotations

import pytest
from rank_bm25 import BM25Okapi

from ingestion.models import Chunk
from ingestion.tokenize import default_tokenizer
from retrieval.bm25 import BM25Retriever as _Retriever
from tests.retrieval.helpers import collection_with_texts

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def sql_engine(db):  # type: ignore[no-untyped-def]
    """These tests are about the `sql` engine (postings, rank-bm25's exact scores)."""
    from ingestion.keyword_index import engine_switch

    engine_switch("sql")

TEXTS = {
    "a.txt": "The cat sat on the mat. Cats purr when happy.",
    "b.txt": "Dogs bark at the postman every morning.",
    "c.txt": "A cat and a dog can live together peacefully.",
    "d.txt": "Quarterly revenue grew by ten percent in the third quarter.",
    "e.txt": "The mat was red and the cat was grey.",
}


@pytest.mark.parametrize("query", ["cat on the mat", "dog barking postman", "revenue quarter growth", "cat cat dog"])
def test_scores_equal_rank_bm25_on_the_same_tokens(query):
    collection = collection_with_texts("animals", TEXTS)
    tokenizer = default_tokenizer()
    chunks = list(Chunk.objects.filter(collection=collection).order_by("id"))
    from ingestion.chunking import embedding_input

    corpus = [tokenizer(embedding_input(c.heading_path, c.text)) for c in chunks]
    retriever = BM25Retriever(k1=1.2, b=0.75, epsilon=0.25)
    reference = BM25Okapi(corpus, k1=1.2, b=0.75, epsilon=0.25).get_scores(tokenizer(query))
    ours = {hit.chunk_id: hit.score for hit in retriever.run(query, collection_ids=[collection.id], top_k=100)}
    for chunk, expected in zip(chunks, reference):
        assert ours.get(chunk.id, 0.0) == pytest.approx(expected, abs=1e-9)


def test_term_in_most_chunks_uses_the_epsilon_floor_like_rank_bm25():
    texts = {f"{i}.txt": f"common word plus unique{i} token" for i in range(5)}
    collection = collection_with_texts("common", texts)
    tokenizer = default_tokenizer()
    chunks = list(Chunk.objects.filter(collection=collection).order_by("id"))
    corpus = [tokenizer(c.text) for c in chunks]
    reference = BM25Okapi(corpus, k1=0.9, b=0.4).get_scores(tokenizer("common unique3"))
    ours = {h.chunk_id: h.score for h in BM25Retriever(k1=0.9, b=0.4).run("common unique3", collection_ids=[collection.id], top_k=10)}
    assert [ours.get(c.id, 0.0) for c in chunks] == pytest.approx(list(reference), abs=1e-9)


def test_it_never_returns_another_collections_chunks():
    mine = collection_with_texts("mine", {"m.txt": "budget spreadsheet for marketing"})
    collection_with_texts("theirs", {"t.txt": "salary spreadsheet budget secret"})
    hits = BM25Retriever().run("spreadsheet budget salary", collection_ids=[mine.id], top_k=10)
    assert hits and {Chunk.objects.get(pk=h.chunk_id).collection_id for h in hits} == {mine.id}


def test_deleting_a_document_updates_the_statistics():
    from ingestion.models import CollectionStats, Document
    from ingestion.services import document_delete

    collection = collection_with_texts("stats", TEXTS)
    before = CollectionStats.objects.get(collection=collection)
    document_delete(document=Document.objects.get(collection=collection, original_filename="d.txt"))
    after = CollectionStats.objects.get(collection=collection)
    assert after.chunk_count == before.chunk_count - 1 and after.total_length < before.total_length
    assert BM25Retriever().run("revenue", collection_ids=[collection.id], top_k=5) == []


def _document_frequencies_counted(collection_id: int) -> dict[str, int]:
    from django.db.models import Count

    from ingestion.models import ChunkTerm

    rows = ChunkTerm.objects.filter(collection_id=collection_id).values("term").annotate(n=Count("id"))
    return {row["term"]: row["n"] for row in rows}


def test_document_frequencies_follow_uploads_re_indexing_and_deletes():
    from ingestion.models import CollectionTerm, Document
    from ingestion.services import document_delete, document_process

    collection = collection_with_texts("frequencies", TEXTS)
    other = collection_with_texts("frequencies-other", {"x.txt": "The cat from another collection."})

    def kept(collection_id: int) -> dict[str, int]:
        return dict(CollectionTerm.objects.filter(collection_id=collection_id).values_list("term", "df"))

    assert kept(collection.id) == _document_frequencies_counted(collection.id)
    assert kept(collection.id)["cat"] == 3
    # Re-indexing a document replaces its chunks: its terms are counted once, not twice.
    again = Document.objects.get(collection=collection, original_filename="a.txt")
    Document.objects.filter(pk=again.pk).update(status=Document.Status.QUEUED)
    document_process(document_id=again.pk)
    assert kept(collection.id) == _document_frequencies_counted(collection.id)
    # Deleting a document takes its terms out; a term no other chunk holds leaves the vocabulary.
    document_delete(document=Document.objects.get(collection=collection, original_filename="d.txt"))
    assert kept(collection.id) == _document_frequencies_counted(collection.id)
    assert "revenu" not in kept(collection.id) and "quarter" not in kept(collection.id)
    assert kept(other.id) == {"cat": 1, "anoth": 1, "collect": 1}


def test_after_a_delete_the_epsilon_floor_uses_the_remaining_vocabulary_like_rank_bm25():
    from ingestion.models import Document
    from ingestion.services import document_delete

    texts = {f"{i}.txt": f"common word plus unique{i} token" for i in range(5)}
    collection = collection_with_texts("floor-after-delete", texts)
    document_delete(document=Document.objects.get(collection=collection, original_filename="3.txt"))
    tokenizer = default_tokenizer()
    chunks = list(Chunk.objects.filter(collection=collection).order_by("id"))
    reference = BM25Okapi([tokenizer(c.text) for c in chunks], k1=0.9, b=0.4).get_scores(tokenizer("common unique2"))
    retriever = BM25Retriever(k1=0.9, b=0.4)
    ours = {h.chunk_id: h.score for h in retriever.run("common unique2", collection_ids=[collection.id], top_k=10)}
    assert [ours.get(c.id, 0.0) for c in chunks] == pytest.approx(list(reference), abs=1e-9)


# --- MaxScore pruning of very common terms -----------------------------------------------------

COMMON = {"cell": 0.9, "protein": 0.75, "patient": 0.6, "study": 0.3}
RARE = ["kinase", "zebrafish", "telomere", "prion", "ribosome", "mitosis", "antigen", "lipid"]
PRUNING_QUERIES = [
    "kinase cell", "zebrafish cell protein", "telomere protein patient cell", "prion prion cell",
    "ribosome mitosis cell protein patient", "antigen study cell", "lipid kinase cell protein",
    "cell protein", "cell", "patient study", "cell protein patient study", "kinase", "mitosis lipid",
]


def BM25Retriever(**options):  # type: ignore[no-untyped-def]  # noqa: N802
    return _Retriever(engine="sql", **options)


def _generated_collection(slug: str):  # type: ignore[no-untyped-def]
    """A corpus where a few words occur in most chunks (as in the 100k benchmark) and others rarely."""
    import random

    rng = random.Random(7)
    texts = {}
    for i in range(40):
        words = [f"filler{i}"]
        for word, share in COMMON.items():
            if rng.random() < share:
                words += [word] * rng.randint(1, 3)
        for word in rng.sample(RARE, rng.randint(0, 2)):
            words += [word] * rng.randint(1, 2)
        words += [f"pad{rng.randint(0, 5)}" for _ in range(rng.randint(0, 8))]
        rng.shuffle(words)
        texts[f"doc{i:02d}.txt"] = " ".join(words) + "."
    return collection_with_texts(slug, texts)


def _pruning_retriever(**overrides):  # type: ignore[no-untyped-def]
    options = {"k1": 1.2, "b": 0.75, "epsilon": 0.25, "candidate_limit": 4, "prune_min_postings": 0, "prune_bound_ratio": 0.5, "prune_common_share": 0.0}
    return BM25Retriever(**{**options, **overrides})


def test_pruned_search_returns_exactly_the_full_query_and_rank_bm25_ranking():
    from ingestion.chunking import embedding_input

    collection = _generated_collection("pruning")
    tokenizer = default_tokenizer()
    chunks = list(Chunk.objects.filter(collection=collection).order_by("id"))
    assert len(chunks) == 40
    bm25 = BM25Okapi([tokenizer(embedding_input(c.heading_path, c.text)) for c in chunks], k1=1.2, b=0.75, epsilon=0.25)
    full = BM25Retriever(k1=1.2, b=0.75, epsilon=0.25, prune_min_postings=10**9)
    pruned = _pruning_retriever()
    paths = set()
    for query in PRUNING_QUERIES:
        reference = sorted(
            ((score, chunk.id) for chunk, score in zip(chunks, bm25.get_scores(tokenizer(query))) if score != 0),
            key=lambda pair: (-pair[0], pair[1]),
        )
        for top_k in (1, 3, 5, 10, 40):
            expected = full.run(query, collection_ids=[collection.id], top_k=top_k)
            assert full.last_paths == ["full"]
            got = pruned.run(query, collection_ids=[collection.id], top_k=top_k)
            paths.update(pruned.last_paths)
            assert [h.chunk_id for h in got] == [h.chunk_id for h in expected], (query, top_k, pruned.last_paths)
            assert [h.score for h in got] == pytest.approx([h.score for h in expected], rel=1e-12, abs=1e-12)
            assert [h.chunk_id for h in got] == [chunk_id for _, chunk_id in reference[:top_k]]
            assert [h.score for h in got] == pytest.approx([score for score, _ in reference[:top_k]], abs=1e-9)
    assert {"pruned", "fallback", "full"} <= paths


def test_a_rare_term_with_common_terms_is_scored_by_the_pruned_path():
    collection = _generated_collection("pruned-path")
    retriever = _pruning_retriever(candidate_limit=1000)
    hits = retriever.run("zebrafish cell protein", collection_ids=[collection.id], top_k=1)
    assert retriever.last_paths == ["pruned"]
    assert "zebrafish" in Chunk.objects.get(pk=hits[0].chunk_id).text


def test_more_results_than_the_rare_terms_find_falls_back_to_the_full_query():
    collection = _generated_collection("fallback-path")
    retriever = _pruning_retriever(candidate_limit=1000)
    hits = retriever.run("zebrafish cell protein", collection_ids=[collection.id], top_k=40)
    assert retriever.last_paths == ["fallback"]
    assert len(hits) > Chunk.objects.filter(collection=collection, text__contains="zebrafish").count()


def test_a_query_of_only_common_terms_is_not_pruned():
    collection = _generated_collection("common-only")
    retriever = _pruning_retriever()
    retriever.run("cell protein", collection_ids=[collection.id], top_k=3)
    assert retriever.last_paths == ["full"]


def test_small_posting_lists_use_the_single_full_query():
    collection = _generated_collection("small")
    retriever = BM25Retriever(k1=1.2, b=0.75)  # default: prune only beyond 20,000 common postings
    retriever.run("zebrafish cell protein", collection_ids=[collection.id], top_k=1)
    assert retriever.last_paths == ["full"]
