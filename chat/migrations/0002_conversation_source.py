from django.db import migrations, models


class Migration(migrations.Migration):
    """Conversations record where they were started. The ones that exist already are counted as the
    browser's (the chat page keeps listing them); from now on each creator says which it is."""

    dependencies = [
        ("chat", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="conversation",
            name="source",
            field=models.CharField(
                choices=[("browser", "The chat page"), ("api", "The API"), ("openai", "The OpenAI-compatible endpoint")],
                default="browser", max_length=16,
            ),
            preserve_default=False,
        ),
        migrations.AlterField(
            model_name="conversation",
            name="source",
            field=models.CharField(
                choices=[("browser", "The chat page"), ("api", "The API"), ("openai", "The OpenAI-compatible endpoint")],
                default="api", max_length=16,
            ),
        ),
    ]
