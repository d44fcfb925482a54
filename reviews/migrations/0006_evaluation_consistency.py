"""Evaluations store the consistency stage's findings (reviews/consistency.py)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("reviews", "0005_audit_sealed_chain"),
    ]

    operations = [
        migrations.AddField(
            model_name="evaluation",
            name="consistency",
            field=models.JSONField(default=list),
        ),
    ]
