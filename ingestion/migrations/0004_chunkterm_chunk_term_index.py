from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("ingestion", "0003_collection_archived_at"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="chunkterm",
            index=models.Index(
                fields=["chunk", "term"], include=("collection", "tf", "doc_length"), name="chunkterm_chunk_term"
            ),
        ),
    ]
