from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('ingestion', '0004_collection_term'),
    ]

    operations = [
        migrations.AddField(
            model_name='collection',
            name='reindex_to',
            field=models.CharField(blank=True, max_length=500),
        ),
        migrations.AddField(
            model_name='collection',
            name='reindex_through',
            field=models.BigIntegerField(default=0),
        ),
    ]
