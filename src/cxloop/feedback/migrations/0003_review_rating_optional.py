"""Reviews inboxes hold customer text with or without a rating (tweets, chat transcripts,
ticket bodies): their star rating question stops being required."""

from django.db import migrations


def rating_optional(apps, schema_editor):
    Question = apps.get_model("feedback", "Question")
    Question.objects.filter(survey__is_review_inbox=True, key="rating").update(required=False)


def rating_required(apps, schema_editor):
    Question = apps.get_model("feedback", "Question")
    Question.objects.filter(survey__is_review_inbox=True, key="rating").update(required=True)


class Migration(migrations.Migration):
    dependencies = [("feedback", "0002_surveys_distribution")]

    operations = [migrations.RunPython(rating_optional, rating_required)]
