"""Services: every function that changes state. Keyword-only, one transaction each, audited."""

from reviews.services.assignments import request_claim, request_release
from reviews.services.checks import evidence_checks_run
from reviews.services.clocks import clocks_mark
from reviews.services.decisions import (
    determination_record,
    peer_to_peer_record,
    request_escalate,
    request_information_ask,
)
from reviews.services.intake import (
    request_answer_information,
    request_submit,
    request_update,
    request_withdraw,
)

__all__ = [
    "clocks_mark",
    "determination_record",
    "evidence_checks_run",
    "peer_to_peer_record",
    "request_answer_information",
    "request_claim",
    "request_escalate",
    "request_information_ask",
    "request_release",
    "request_submit",
    "request_update",
    "request_withdraw",
]
