"""What Lamina read in each attached note.

An attachment is read once per rule set: its NoteReading row records that (and under which
RULES_VERSION), its NoteFinding rows what was found. Findings are facts about the text; whether
they disagree with the attestation is worked out each evaluation round from the request's
current facts (notes.conflicts).
"""

from django.db import models


class Category(models.TextChoices):
    RED_FLAG = "red_flag", "Red flag"
    CONSERVATIVE_CARE = "conservative_care", "Conservative care"
    PRIOR_PROCEDURE = "prior_procedure", "Prior procedure"


class NoteReading(models.Model):
    """One attachment read under one version of the rules."""

    attachment = models.OneToOneField(
        "reviews.Attachment", on_delete=models.CASCADE, related_name="note_reading"
    )
    rules_version = models.CharField(max_length=30)
    finding_count = models.PositiveIntegerField(default=0)
    read_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"attachment {self.attachment_id} read under {self.rules_version}"


class NoteFinding(models.Model):
    """One mention of a concept in a note, with its ConText context and any numbers stated."""

    attachment = models.ForeignKey(
        "reviews.Attachment", on_delete=models.CASCADE, related_name="note_findings"
    )
    concept = models.CharField(max_length=50)  # a name from notes.rules.CONCEPTS
    category = models.CharField(max_length=20, choices=Category.choices)
    # Character offsets into Attachment.text: text[start:end] == self.text.
    start = models.PositiveIntegerField()
    end = models.PositiveIntegerField()
    text = models.CharField(max_length=300)
    # The sentence the finding sits in, for the explanation a reviewer reads.
    sentence_start = models.PositiveIntegerField()
    sentence_end = models.PositiveIntegerField()
    is_negated = models.BooleanField(default=False)
    is_historical = models.BooleanField(default=False)
    is_hypothetical = models.BooleanField(default=False)
    is_family = models.BooleanField(default=False)  # about someone other than the patient
    is_uncertain = models.BooleanField(default=False)  # "possible", "concerning for"
    visits = models.PositiveIntegerField(null=True, blank=True)
    duration_days = models.PositiveIntegerField(null=True, blank=True)
    percent = models.PositiveSmallIntegerField(null=True, blank=True)  # relief, 0-100

    class Meta:
        ordering = ["attachment_id", "start"]
        constraints = [
            # Reading an attachment again never duplicates what it already found.
            models.UniqueConstraint(
                fields=["attachment", "concept", "start", "end"], name="note_finding_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.concept} at {self.start}-{self.end} of attachment {self.attachment_id}"

    @property
    def context(self) -> str:
        """negated, family, hypothetical, historical, uncertain or affirmed."""
        from notes.reader import finding_context

        return finding_context(self)

    @property
    def label(self) -> str:
        from notes.rules import CONCEPT_BY_NAME

        concept = CONCEPT_BY_NAME.get(self.concept)
        return concept.label if concept else self.concept.replace("_", " ")
