from django.db import migrations


def create_default(apps, schema_editor):
    # The index DDL of today's code (plain SQL, no models), imported only when the migration runs.
    from ingestion.vector_index import vector_index_create_sql

    Collection = apps.get_model("ingestion", "Collection")
    collection, _ = Collection.objects.get_or_create(slug="default", defaults={"name": "Default"})
    schema_editor.execute(vector_index_create_sql(collection.id))


class Migration(migrations.Migration):
    dependencies = [("ingestion", "0001_initial")]
    operations = [migrations.RunPython(create_default, migrations.RunPython.noop)]
