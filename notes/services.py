"""Reading attached clinical notes for evidence that disagrees with the attestation."""


def notes_read_for_request(*, pa_request) -> list[dict]:
    """Read the request's notes, store findings, return the conflicts with the attested facts.

    Each conflict: {"kind", "concept", "criterion", "explanation", "attachment_id", "span"}.
    """
    return []
