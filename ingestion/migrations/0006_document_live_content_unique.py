"""One live (not failed) document per content and collection, as duplicate detection counts them.

Uploads that raced past the detection before this constraint existed would stop it from being
created: of each such group the first indexed document (else the oldest) is kept, and the others
are marked failed with a message naming it. Their chunks stay searchable, as they were, until
someone deletes them from the documents page; nothing is deleted here."""

from django.db import migrations, models
from django.db.models import Count, Q


def fail_later_duplicates(apps, schema_editor):  # type: ignore[no-untyped-def]
    Document = apps.get_model("ingestion", "Document")
    live = Document.objects.exclude(status="failed")
    groups = live.values("collection_id", "sha256").annotate(n=Count("id")).filter(n__gt=1)
    for group in groups:
        documents = list(live.filter(collection_id=group["collection_id"], sha256=group["sha256"]).order_by("id"))
        kept = next((d for d in documents if d.status == "indexed"), documents[0])
        others = [d.pk for d in documents if d.pk != kept.pk]
        Document.objects.filter(pk__in=others).update(
            status="failed",
            error=(
                f"Identical to '{kept.original_filename}' (document {kept.pk}) in this collection, which is kept: "
                "this copy got past duplicate detection (two uploads at the same moment). Delete it."
            ),
        )


class Migration(migrations.Migration):

    dependencies = [
        ("ingestion", "0005_collection_reindex_marker"),
    ]

    operations = [
        migrations.RunPython(fail_later_duplicates, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="document",
            constraint=models.UniqueConstraint(
                condition=~Q(status="failed"), fields=("collection", "sha256"), name="document_live_content_unique"
            ),
        ),
    ]
