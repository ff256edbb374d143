"""Answers from a public link or embed stored without a channel: on the "link"/"embed" channel at
their touchpoint, as new ones are (feedback._responses.PUBLIC_TOUCHPOINTS), so the dashboard
stops counting them under "(none)"."""

from django.db import migrations

PUBLIC_TOUCHPOINTS = {"link": "Public survey link", "embed": "Website embed"}


def name_public_answers(apps, schema_editor):
    response = apps.get_model("feedback", "Response")
    for source, touchpoint in PUBLIC_TOUCHPOINTS.items():
        unnamed = response.objects.filter(source=source, invitation__isnull=True)
        unnamed.filter(channel="", touchpoint="").update(channel=source, touchpoint=touchpoint)
        unnamed.filter(channel="").update(channel=source)


class Migration(migrations.Migration):
    dependencies = [("feedback", "0004_survey_theme")]

    operations = [migrations.RunPython(name_public_answers, migrations.RunPython.noop)]
