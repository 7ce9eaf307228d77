"""A bm25 index that a PostgreSQL restart left blind is found and rebuilt.

pg_textsearch 1.0.0 (the embedded server's) loses an index's corpus statistics when PostgreSQL
restarts, if the index was created empty and filled by inserts (as a collection filled by uploads is): the index stays valid and ready, and
finds nothing. The first test shows that on a private embedded server; the others, that the
repair finds and rebuilds such an index and that the worker runs it."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from ingestion.hooks import periodic_jobs
from ingestion.keyword_index import keyword_index_name, keyword_indexes_blind, keyword_indexes_repair
from tests.retrieval.helpers import collection_with_texts

PROBE = ("SELECT id, -(body <@> to_bm25query('gamma7', 't_bm25')) FROM t ORDER BY body <@> to_bm25query('gamma7', 't_bm25') "
         "LIMIT 1")


def _server(folder: Path):  # type: ignore[no-untyped-def]
    import pgserver

    return pgserver.get_server(folder, cleanup_mode="stop")


def test_a_restart_blinds_an_index_filled_by_inserts_and_reindex_mends_it(tmp_path):
    import psycopg

    server = _server(tmp_path / "pg")
    with psycopg.connect(server.get_uri(), autocommit=True) as db:
        db.execute("CREATE EXTENSION IF NOT EXISTS pg_textsearch")
        db.execute("CREATE TABLE t (id serial PRIMARY KEY, body text)")
        db.execute("CREATE INDEX t_bm25 ON t USING bm25 (body) WITH (text_config='simple')")
        for i in range(50):
            db.execute("INSERT INTO t (body) VALUES (%s)", [f"alpha beta gamma{i}"])
        assert db.execute(PROBE).fetchone()[1] > 0
    server.cleanup()  # a clean (fast) shutdown
    server = _server(tmp_path / "pg")
    try:
        with psycopg.connect(server.get_uri(), autocommit=True) as db:
            found = db.execute(PROBE).fetchone()
            # If this fails, pg_textsearch keeps its statistics across restarts now: the repair job can go.
            assert found is None or not found[1] > 0, "the index kept its statistics across the restart"
            db.execute("REINDEX INDEX t_bm25")
            assert db.execute(PROBE).fetchone()[1] > 0
    finally:
        server.cleanup()


@pytest.mark.django_db
def test_the_repair_rebuilds_a_blind_index_and_leaves_healthy_ones(monkeypatch, caplog):
    import ingestion.keyword_index as keyword_index

    blind = collection_with_texts("repair-blind", {"a.txt": "Quarterly revenue grew in the third quarter."})
    collection_with_texts("repair-healthy", {"b.txt": "The canteen serves soup on Mondays."})
    assert keyword_indexes_repair() == []  # nothing blind: nothing rebuilt
    statements: list[str] = []
    real = keyword_index.keyword_indexes_blind
    monkeypatch.setattr(keyword_index, "keyword_indexes_blind", lambda: [(blind.id, blind.slug)])
    from django.db import connection

    with caplog.at_level(logging.WARNING, logger="ingestion.keyword_index"), \
            connection.execute_wrapper(lambda execute, sql, *a: (statements.append(sql), execute(sql, *a))[1]):
        assert keyword_indexes_repair() == ["repair-blind"]
    assert [s for s in statements if s.startswith("REINDEX")] == [f"REINDEX INDEX {keyword_index_name(blind.id)}"]
    assert "repair-blind" in caplog.text
    monkeypatch.setattr(keyword_index, "keyword_indexes_blind", real)
    assert keyword_indexes_blind() == []  # the rebuilt index finds its words


def test_the_worker_runs_the_repair_at_start_and_every_minute():
    import ingestion.worker  # noqa: F401  (registers its periodic jobs)

    job = next(j for j in periodic_jobs() if j.name == "keyword_indexes_repair")
    assert job.run is keyword_indexes_repair and job.every_seconds == 60
