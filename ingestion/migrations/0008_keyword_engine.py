"""pg_textsearch: the chunks' BM25 tokens as text, and the database's keyword engine.

A new database takes pg_textsearch when the server can load it (one bm25 index per collection);
a database that already holds chunks keeps its postings (`sql`) until `manage.py bm25_engine
pg_textsearch` builds the indexes, and one without the extension says why it uses `sql`.
"""

from django.conf import settings
from django.db import migrations, models


def _unavailable(cursor):
    cursor.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_textsearch'")
    if cursor.fetchone() is None:
        return "the pg_textsearch extension is not installed on this PostgreSQL server"
    cursor.execute("SELECT current_setting('shared_preload_libraries')")
    if "pg_textsearch" not in [n.strip() for n in str(cursor.fetchone()[0]).split(",")]:
        return "pg_textsearch is installed but not in shared_preload_libraries"
    return ""


def engine_choose(apps, schema_editor):
    KeywordEngine = apps.get_model("ingestion", "KeywordEngine")
    Chunk = apps.get_model("ingestion", "Chunk")
    Collection = apps.get_model("ingestion", "Collection")
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        unavailable = _unavailable(cursor)
        if unavailable:
            KeywordEngine.objects.create(engine="sql", reason=unavailable)
            return
        if Chunk.objects.exists():
            KeywordEngine.objects.create(
                engine="sql",
                reason="indexed before pg_textsearch: run `python manage.py bm25_engine pg_textsearch` to switch",
            )
            return
        cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_textsearch")
        for cid in Collection.objects.values_list("id", flat=True):
            cursor.execute(
                f"CREATE INDEX IF NOT EXISTS chunk_bm25_c{int(cid)} ON ingestion_chunk USING bm25 (bm25_text) "
                f"WITH (text_config='simple', k1={float(settings.BM25_K1)}, b={float(settings.BM25_B)}) "
                f"WHERE collection_id = {int(cid)}"
            )
        KeywordEngine.objects.create(engine="pg_textsearch", reason="")


class Migration(migrations.Migration):

    dependencies = [
        ("ingestion", "0007_document_worker_holder"),
    ]

    operations = [
        migrations.AddField(
            model_name="chunk",
            name="bm25_text",
            field=models.TextField(blank=True, default=""),
        ),
        migrations.CreateModel(
            name="KeywordEngine",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("engine", models.CharField(
                    choices=[("pg_textsearch", "pg_textsearch (bm25 index)"), ("sql", "SQL over postings")], max_length=16)),
                ("reason", models.TextField(blank=True)),
                ("changed_at", models.DateTimeField(auto_now=True)),
            ],
        ),
        migrations.RunPython(engine_choose, migrations.RunPython.noop),
    ]
