"""The recommendation after every check: the one place that turns the engine's answer, the
history flags, the documentation, the note conflicts and the consistency findings into a route.

Pure: no database, no clock. The evidence checks (reviews.services.checks) and the policy
simulation (reviews.services.simulation) both decide through it.
"""

from reviews.models import Recommendation

NO_POLICY_REASON = "No Lamina policy covers this service; a reviewer decides it."


def decide(
    engine: dict | None,
    history: list[dict],
    documentation: list[dict],
    conflicts: list[dict],
    findings: list[dict] = (),
) -> tuple[str, list[dict], list[dict]]:
    """The recommendation after every check, with its reasons and the missing information.

    An approval needs every decisive criterion met by facts that agree with each other: a
    consistency finding, a note conflict or a history flag sends the case to a reviewer with the
    contradiction named. A red flag from any source (the criteria, a consistency finding, a note)
    goes to a physician, never to a nurse and never to an approval.
    """
    if engine is None:
        return (
            Recommendation.NURSE_REVIEW,
            [{"criterion": "", "statement": NO_POLICY_REASON, "explanation": NO_POLICY_REASON}],
            [],
        )
    recommendation = engine["recommendation"]
    reasons = list(engine.get("reasons") or [])
    missing = list(engine.get("missing_information") or [])
    human = recommendation in {Recommendation.NURSE_REVIEW, Recommendation.PHYSICIAN_REVIEW}
    flags = [h for h in history if h["result"] == "flag"]
    if conflicts or flags:
        for conflict in conflicts:
            reasons.append(
                {
                    "criterion": conflict.get("criterion", ""),
                    "statement": "A clinical note disagrees with the attested facts.",
                    "explanation": conflict.get("explanation", ""),
                }
            )
        for flag in flags:
            reasons.append(
                {
                    "criterion": "",
                    "statement": "History check: " + flag["check"],
                    "explanation": flag["detail"],
                }
            )
        if not human:
            recommendation = Recommendation.NURSE_REVIEW
    elif (
        not findings
        and recommendation == Recommendation.APPROVE
        and not next(d["present"] for d in documentation if d["item"] == "any_documentation")
    ):
        recommendation = Recommendation.PEND_MISSING_INFORMATION
        missing.append(
            {
                "field": "attachments",
                "fact": "documentation",
                "why": "A clinical note or imaging report must support the attested facts.",
                # The documentation criterion of the policies (GEN-10); a version older than it
                # is held to the same rule here.
                "criterion": "GEN-10",
            }
        )
    for finding in findings:
        reasons.append(
            {
                "criterion": "",
                "check": finding["check"],
                "statement": "Contradiction: " + finding["statement"],
                "explanation": "; ".join(
                    f"{what}: {value}" for what, value in (finding.get("compared") or {}).items()
                ),
            }
        )
    if findings and recommendation not in {
        Recommendation.NURSE_REVIEW,
        Recommendation.PHYSICIAN_REVIEW,
    }:
        recommendation = Recommendation.NURSE_REVIEW
    red_flag = (
        bool(engine.get("red_flags"))
        or any(c.get("kind") == "red_flag" for c in conflicts)
        or any(f.get("severity") == "red_flag" for f in findings)
    )
    if red_flag or any(f.get("route") == Recommendation.PHYSICIAN_REVIEW for f in findings):
        recommendation = Recommendation.PHYSICIAN_REVIEW
    return recommendation, reasons, missing
