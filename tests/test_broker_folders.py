"""The filesystem broker keeps everything it writes under its folder in var/."""

from __future__ import annotations

from kombu import Connection, Exchange, Queue


def test_the_exchange_tables_go_under_the_broker_folder_not_the_working_directory(tmp_path, monkeypatch, settings):
    # kombu's default control folder is "control" in the working directory: the repository root
    # for `make run` and the tests. Its fanout exchanges (Celery's broadcast and pidbox) write there.
    monkeypatch.chdir(tmp_path)
    exchange = Exchange("footnote-test-broadcast", type="fanout")
    table = settings.BROKER_DIR / "control" / "footnote-test-broadcast.exchange"
    try:
        # The transport options the worker and the web processes get from the settings (a
        # connection of its own: another test may have pointed the Celery app at Redis meanwhile).
        with Connection("filesystem://", transport_options=settings.CELERY_BROKER_TRANSPORT_OPTIONS) as connection:
            Queue("footnote-test-broadcast-queue", exchange=exchange)(connection.default_channel).declare()
        assert not (tmp_path / "control").exists()
        assert table.exists()
    finally:
        table.unlink(missing_ok=True)
