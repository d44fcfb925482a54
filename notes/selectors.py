"""Reading the stored note findings for display."""


def findings_for_request(*, pa_request) -> dict:
    """{"conflicts": [...], "attachments": [{"attachment": Attachment, "findings": [...],
    "highlighted_html": str}]} for the case page."""
    return {"conflicts": [], "attachments": []}
