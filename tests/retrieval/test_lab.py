import pytest
from django.test import Client

from tests.retrieval.helpers import collection_with_texts

pytestmark = pytest.mark.django_db


def test_lab_shows_every_stage_for_staff(staff):
    collection_with_texts("lab", {"a.txt": "Hotel nights in Zurich cost <b>240</b> francs."})
    client = Client()
    client.force_login(staff)
    response = client.get("/lab/", {"q": "hotel Zurich", "collection": "lab"})
    assert response.status_code == 200
    html = response.content.decode()
    for title in ("BM25", "Vector", "Fused (RRF)"):
        assert title in html
    assert "a.txt" in html and "&lt;b&gt;240&lt;/b&gt;" in html  # document text is escaped
    assert "reindex --collection" not in html


def test_lab_says_when_the_collections_vectors_are_of_another_model(staff):
    from ingestion.models import Collection

    collection_with_texts("lab-old", {"a.txt": "Hotel nights in Zurich cost 240 francs."})
    Collection.objects.filter(slug="lab-old").update(embedding_model="another/model")
    client = Client()
    client.force_login(staff)
    html = client.get("/lab/", {"q": "hotel Zurich", "collection": "lab-old"}).content.decode()
    assert "was embedded with &#x27;another/model&#x27;" in html and "reindex --collection lab-old" in html


def test_lab_is_staff_only(owner):
    client = Client()
    client.force_login(owner)
    assert client.get("/lab/").status_code == 302
