"""reviews/facts.py: the conventions of criteria.md section 0, one by one."""

import copy
from datetime import UTC, date, datetime, timedelta

import pytest

from criteria.engine import add_months
from reviews.facts import FACT_VOCABULARY, build_facts, facts_for_request

REVIEW = date(2026, 11, 23)
MEMBER = {"birth_date": date(1971, 4, 2), "sex": "female"}


def esi_request(**clinical) -> dict:
    return {
        "service": {
            "cpt_codes": ["64483"],
            "spinal_region": "lumbar",
            "levels": ["L5-S1"],
            "image_guidance": "fluoroscopy",
            "contrast": True,
        },
        "clinical": {"prior_procedures": [], **clinical},
        "diagnosis_codes": ["M51.17"],
        "procedure_family": "epidural_steroid_injection",
        "urgency": "standard",
        "line_of_business": "commercial",
        "attachments": [],
    }


def facts(data: dict, history=None, review_date=REVIEW, member=MEMBER) -> dict:
    return build_facts(
        request_data=data, review_date=review_date, history=history or [], member=member
    )


def esi(on: date, code="64483", region="lumbar", **extra) -> dict:
    return {
        "cpt_code": code,
        "date": on.isoformat(),
        "region": region,
        "levels": ["L5-S1"],
        **extra,
    }


@pytest.mark.parametrize(("days", "expected"), [(27, 27), (28, 28), (42, 42)])
def test_durations_are_end_minus_start_in_whole_days(days, expected):
    onset = (REVIEW - timedelta(days=days)).isoformat()
    assert facts(esi_request(symptom_onset_date=onset))["symptoms.duration_days"] == expected


def test_unreported_is_unknown_never_no():
    result = facts(esi_request())
    assert set(result) == FACT_VOCABULARY
    assert result["symptoms.duration_days"] is None
    assert result["red_flags.fever"] is None
    assert result["conservative_care.failed_days"] is None
    assert result["imaging.advanced_concordant"] is None


def test_conservative_care_still_going_on_ends_at_the_review_date():
    care = [
        {"modality": "nsaid", "start_date": "2026-10-26", "end_date": None, "outcome": "failed"},
        {
            "modality": "physical_therapy",
            "start_date": "2026-11-01",
            "end_date": "2026-11-10",
            "outcome": "ongoing",
        },
    ]
    result = facts(esi_request(conservative_care=care))
    assert result["conservative_care.failed_days"] == 28
    assert result["conservative_care.physical_therapy_days"] == 0  # not failed (yet)
    assert result["conservative_care.medication_trial"] is True
    assert result["conservative_care.active_rehab_ongoing"] is False


def test_physical_therapy_days_count_overlaps_once_and_bed_rest_is_not_care():
    care = [
        {
            "modality": "physical_therapy",
            "start_date": "2026-09-01",
            "end_date": "2026-09-22",
            "outcome": "failed",
        },
        {
            "modality": "physical_therapy",
            "start_date": "2026-09-15",
            "end_date": "2026-10-13",
            "outcome": "failed",
        },
        {
            "modality": "other",
            "detail": "bed rest",
            "start_date": "2026-01-01",
            "end_date": None,
            "outcome": "failed",
        },
    ]
    result = facts(esi_request(conservative_care=care))
    assert result["conservative_care.physical_therapy_days"] == 42
    assert result["conservative_care.failed_days"] == 42  # the year of bed rest does not count


@pytest.mark.parametrize(
    ("baseline", "post", "given", "expected"),
    # Scores on one scale win over a stated percent (86 % stated, 7 -> 1 gives 85.7 %).
    [(10, 2, None, 80.0), (10, 2.1, None, 79.0), (7, 1, 86, 600 / 7), (7, None, 60, 60)],
)
def test_relief_percent_is_computed_from_scores_on_one_scale(baseline, post, given, expected):
    prior = esi(
        date(2026, 6, 1),
        pain_scale="nrs",
        baseline_score=baseline,
        post_score=post,
        relief_percent=given,
    )
    result = facts(esi_request(prior_procedures=[prior]))
    assert result["esi.last_relief_percent"] == (pytest.approx(expected) if expected else None)
    assert result["esi.last_same_scale"] is (True if post is not None else None)


@pytest.mark.parametrize(("days", "months"), [(88, 2), (89, 3), (119, 3), (120, 4)])
def test_relief_of_n_months_is_calendar_arithmetic(days, months):
    # 2026-01-31 + 3 months = 2026-04-30, reached after 89 days
    prior = esi(date(2026, 1, 31), relief_percent=60, relief_duration_days=days)
    assert facts(esi_request(prior_procedures=[prior]))["esi.last_relief_months"] == months


def test_rolling_12_months_excludes_exactly_12_months_back_and_counts_the_request():
    exactly = add_months(REVIEW, -12)
    priors = [
        esi(exactly),  # outside: the window is (review - 12 months, review]
        esi(exactly + timedelta(days=1)),
        esi(date(2026, 5, 1), code="62323", region="sacral"),  # lumbar and sacral are one region
        esi(date(2026, 6, 1), region="cervical"),  # another region
    ]
    result = facts(esi_request(prior_procedures=priors))
    assert result["esi.sessions_rolling_12_months"] == 3
    assert result["esi.is_repeat"] is True


@pytest.mark.parametrize(("prior_count", "expected"), [(3, 4), (4, 5)])
def test_four_and_five_sessions(prior_count, expected):
    priors = [esi(date(2026, m, 1)) for m in range(1, 1 + prior_count)]
    assert facts(esi_request(prior_procedures=priors))["esi.sessions_rolling_12_months"] == expected


def test_add_on_codes_on_one_day_are_one_session():
    priors = [esi(date(2026, 6, 1)), esi(date(2026, 6, 1), code="64484")]
    assert facts(esi_request(prior_procedures=priors))["esi.sessions_rolling_12_months"] == 2


def _lamina(
    on: date, outcome="approved", status="approved", family="epidural_steroid_injection", **service
):
    return {
        "id": 1,
        "procedure_family": family,
        "service": {
            "cpt_codes": ["64483"],
            "spinal_region": "lumbar",
            "levels": ["L5-S1"],
            "planned_date": on.isoformat(),
            **service,
        },
        "status": status,
        "received_at": datetime(on.year, on.month, on.day, tzinfo=UTC) - timedelta(days=7),
        "determination": None
        if outcome is None
        else {"outcome": outcome, "valid_from": on, "valid_to": on + timedelta(days=90)},
    }


def test_history_counts_approved_lamina_requests_once_beside_outside_care():
    outside = esi(date(2026, 6, 1), pain_scale="nrs", baseline_score=8, post_score=2)
    history = [
        _lamina(date(2026, 6, 1)),  # the same injection the provider also reported: counted once
        _lamina(date(2026, 8, 1)),  # approved in Lamina, not reported: counted
        _lamina(date(2026, 9, 1), outcome="denied", status="denied"),  # never done
        _lamina(date(2026, 9, 15), outcome=None, status="nurse_review"),  # not decided
        _lamina(date(2026, 10, 1), status="withdrawn"),
    ]
    result = facts(esi_request(prior_procedures=[outside]), history=history)
    assert result["esi.sessions_rolling_12_months"] == 3
    # the latest session is the Lamina one, which carries no relief data: asked for, not guessed
    assert result["esi.last_relief_percent"] is None
    assert result["esi.days_since_last"] == (REVIEW - date(2026, 8, 1)).days


def test_the_provider_entry_wins_a_duplicate_because_it_carries_the_scores():
    outside = esi(
        date(2026, 8, 1), pain_scale="nrs", baseline_score=8, post_score=2, relief_duration_days=100
    )
    result = facts(esi_request(prior_procedures=[outside]), history=[_lamina(date(2026, 8, 1))])
    assert result["esi.sessions_rolling_12_months"] == 2
    assert result["esi.last_relief_percent"] == 75
    assert result["esi.last_relief_months"] == 3


def test_facet_blocks_count_since_the_last_ablation_and_a_first_block_is_diagnostic():
    data = esi_request()
    data["procedure_family"] = "facet_injection"
    data["service"] = {
        "cpt_codes": ["64493"],
        "spinal_region": "lumbar",
        "levels": ["L4-L5"],
        "image_guidance": "fluoroscopy",
    }
    first = facts(data)
    assert first["service.block_intent"] == "diagnostic"
    assert first["facet.diagnostic_blocks_prior"] == 0
    assert first["facet.diagnostic_sessions_rolling_12_months"] == 1
    data["clinical"]["prior_procedures"] = [
        {"cpt_code": "64493", "date": "2023-01-10", "region": "lumbar", "levels": ["L4-L5"]},
        {
            "cpt_code": "64635",
            "date": "2023-03-01",
            "region": "lumbar",
            "levels": ["L4-L5"],
            "relief_percent": 70,
        },
        {
            "cpt_code": "64493",
            "date": "2026-10-01",
            "region": "lumbar",
            "levels": ["L4-L5"],
            "pain_scale": "vas_mm",
            "baseline_score": 70,
            "post_score": 10,
        },
        {
            "cpt_code": "64493",
            "date": "2026-10-20",
            "region": "lumbar",
            "levels": ["L4-L5"],
            "agent": "triamcinolone",
        },
    ]
    data["service"]["block_intent"] = "diagnostic"
    later = facts(data)
    assert later["facet.diagnostic_blocks_prior"] == 1  # the 2023 block preceded the ablation
    assert later["facet.last_block_relief_percent"] == pytest.approx(600 / 7)
    assert later["facet.days_since_last_block"] == 53
    assert later["facet.therapeutic_sessions_rolling_12_months"] == 1  # the steroid injection
    assert later["rfa.prior_count"] == 1 and later["rfa.last_date"] == date(2023, 3, 1)
    assert later["facet.block_at_successful_rfa_level"] is True


def test_a_worsening_grade_between_dated_exams_is_a_progressive_deficit():
    exams = [
        {"date": "2026-10-01", "muscle": "ehl", "grade": 5},
        {"date": "2026-11-01", "muscle": "ehl", "grade": 4},
    ]
    result = facts(esi_request(neurological={"motor_exams": exams}))
    assert result["neurological.progressive_motor_deficit"] is True
    assert result["neurological.motor_grade_mrc"] == 4
    stable = facts(esi_request(neurological={"motor_exams": exams[:1]}))
    assert stable["neurological.progressive_motor_deficit"] is None


@pytest.mark.parametrize(("review", "age"), [(date(2026, 4, 1), 54), (date(2026, 4, 2), 55)])
def test_age_at_review(review, age):
    assert facts(esi_request(), review_date=review)["member.age_years"] == age


def test_imaging_concordance_level_and_report():
    imaging = [
        {
            "modality": "mri",
            "date": "2026-10-02",
            "region": "lumbar",
            "levels": ["L5-S1"],
            "findings": ["disc_herniation"],
            "concordant_with_symptoms": True,
        },
        {"modality": "xray", "date": "2026-09-01", "region": "lumbar", "findings": ["normal"]},
    ]
    result = facts(esi_request(imaging=imaging))
    assert result["imaging.advanced_concordant"] is True
    assert result["imaging.advanced_at_level"] is True
    assert result["imaging.advanced_report_available"] is None  # no report text, no attachment
    assert result["imaging.findings"] == ["disc_herniation", "normal"]
    other_level = copy.deepcopy(imaging)
    other_level[0]["levels"] = ["L2-L3"]
    assert facts(esi_request(imaging=other_level))["imaging.advanced_at_level"] is False


def test_pain_on_a_visual_analogue_scale_is_read_in_tenths():
    assert facts(esi_request(pain_score_vas_mm=65))["pain.score"] == 6.5


@pytest.mark.django_db
def test_facts_for_request_reads_the_members_other_requests():
    from django.utils import timezone

    from reviews.models import Attachment, Determination, Status
    from tests.factories import MemberFactory, PriorAuthRequestFactory

    member = MemberFactory(birth_date=date(1971, 4, 2))
    service = {"cpt_codes": ["64483"], "spinal_region": "lumbar", "levels": ["L5-S1"]}
    earlier = PriorAuthRequestFactory(
        member=member, status=Status.APPROVED, service={**service, "planned_date": "2026-06-01"}
    )
    Determination.objects.create(
        request=earlier,
        outcome="approved",
        decided_by_role="engine",
        decided_at=timezone.now(),
        valid_from=date(2026, 6, 1),
        valid_to=date(2026, 9, 1),
    )
    withdrawn = PriorAuthRequestFactory(
        member=member, status=Status.WITHDRAWN, service={**service, "planned_date": "2026-07-01"}
    )
    Determination.objects.create(
        request=withdrawn, outcome="approved", decided_by_role="engine", decided_at=timezone.now()
    )
    PriorAuthRequestFactory(status=Status.APPROVED, service=service)  # another member's
    current = PriorAuthRequestFactory(
        member=member, service=service, clinical={"symptom_onset_date": "2026-08-18"}
    )
    Attachment.objects.create(request=current, kind="imaging_report", text="MRI report")

    result = facts_for_request(current, review_date=REVIEW)

    assert set(result) == FACT_VOCABULARY
    assert result["esi.sessions_rolling_12_months"] == 2  # the approved earlier one and this one
    assert result["esi.days_since_last"] == (REVIEW - date(2026, 6, 1)).days
    assert result["member.age_years"] == 55
    assert result["symptoms.duration_days"] == 97


# --- issue 13: facts behind the imaging red flags, fusion scope and the blocks' durations -------


def fusion_request(levels, codes=("22633", "22840"), **clinical) -> dict:
    data = esi_request(**clinical)
    data["service"] = {"cpt_codes": list(codes), "spinal_region": "lumbar", "levels": levels}
    data["procedure_family"] = "spinal_fusion"
    return data


@pytest.mark.parametrize(
    ("levels", "codes", "count"),
    [
        (["L4-L5"], ("22633", "22840"), 1),
        (["L4-S1"], ("22633", "22840"), 2),
        (["L4-L5", "L5-S1"], ("22633",), 2),
        (["L4-L5", "L4-S1"], ("22633",), 2),  # a segment named twice is one segment
        (["L4-L5"], ("22633", "22634"), 2),  # the additional-interspace code says two
        (["L4-L5"], ("22633", "22842"), 2),  # segmental instrumentation over 3 to 6 vertebrae
        ([], ("22633",), None),
    ],
)
def test_fused_segments_count_the_levels_and_the_additional_level_codes(levels, codes, count):
    assert facts(fusion_request(levels, codes))["service.fused_segment_count"] == count


def test_fused_segments_are_counted_for_fusion_only():
    assert facts(esi_request())["service.fused_segment_count"] is None


def _study(levels, found, modality="mri", **more):
    return {
        "modality": modality,
        "date": "2026-10-01",
        "region": "lumbar",
        "levels": levels,
        "findings": found,
        "concordant_with_symptoms": True,
        **more,
    }


@pytest.mark.parametrize(
    ("fused", "studies", "expected"),
    [
        (["L4-L5"], [_study(["L4-L5"], ["spondylolisthesis", "central_stenosis"])], True),
        (["L4-L5"], [_study(["L5-S1"], ["spondylolisthesis"])], False),  # listhesis below
        (["L4-L5", "L5-S1"], [_study(["L4-L5"], ["spondylolisthesis"])], False),  # extra level
        (["L4-S1"], [_study(["L4-L5", "L5-S1"], ["foraminal_stenosis"])], True),
        # instability on flexion-extension films counts at their levels
        (
            ["L4-L5"],
            [_study(["L4-L5"], [], "xray_flexion_extension", translation_mm=4.5)],
            True,
        ),
        (["L4-L5"], [_study(["L4-L5"], ["degenerative_disc_disease"])], None),
    ],
)
def test_every_fused_segment_needs_an_indication_at_its_level(fused, studies, expected):
    data = fusion_request(fused, imaging=studies)
    assert facts(data)["imaging.fused_levels_match_indication"] is expected


@pytest.mark.parametrize(
    ("clinical", "expected"),
    [
        ({"prior_discectomy_levels": ["L4-L5"]}, True),
        ({"prior_discectomy_levels": ["L3-L4"]}, False),  # operated elsewhere
        ({"prior_discectomy_levels": []}, False),
        ({}, None),  # nothing said of an earlier discectomy
        # a discectomy code in the earlier procedures says the same
        (
            {
                "prior_procedures": [
                    {"cpt_code": "63030", "date": "2024-05-01", "levels": ["L4-L5"]}
                ]
            },
            True,
        ),
    ],
)
def test_a_recurrent_herniation_is_one_at_a_level_operated_before(clinical, expected):
    data = fusion_request(["L4-L5"], imaging=[_study(["L4-L5"], ["disc_herniation"])], **clinical)
    assert facts(data)["imaging.recurrent_herniation_at_level"] is expected


@pytest.mark.parametrize(
    ("found", "concordant", "expected"),
    [
        (["normal"], True, True),
        (["normal", "disc_herniation"], False, True),  # normal and a pathology at once
        (["normal"], False, False),
        (["disc_herniation"], True, False),
    ],
)
def test_a_study_reported_normal_cannot_be_concordant(found, concordant, expected):
    study = _study(["L5-S1"], found, concordant_with_symptoms=concordant)
    assert facts(esi_request(imaging=[study]))["imaging.normal_study_contradicted"] is expected
    assert facts(esi_request())["imaging.normal_study_contradicted"] is None


@pytest.mark.parametrize(
    ("oncology", "fracture", "codes", "declared"),
    [
        (None, None, ["M51.17"], False),
        ({"metastatic_disease": True}, None, ["M51.17"], True),
        ({"metastatic_disease": False}, None, ["M51.17"], False),
        (None, {"etiology": "myeloma"}, ["M80.08XA"], True),
        (None, {"etiology": "osteoporotic"}, ["M80.08XA"], False),
        (None, None, ["C79.51", "M84.58XA"], True),
    ],
)
def test_a_neoplasm_is_declared_by_what_the_request_says_never_by_its_imaging(
    oncology, fracture, codes, declared
):
    data = esi_request(
        oncology=oncology,
        fracture=fracture,
        imaging=[_study(["L5-S1"], ["osseous_metastasis"])],
    )
    data["diagnosis_codes"] = codes
    result = facts(data)
    assert result["oncology.neoplasm_declared"] is declared
    assert result["oncology.metastatic_indication"] is True  # the imaging still says so


def test_documentation_is_a_note_or_an_imaging_report_and_unknown_without_either():
    bare = esi_request(imaging=[_study(["L5-S1"], ["disc_herniation"])])
    assert facts(bare)["documentation.supporting"] is None
    with_report = copy.deepcopy(bare)
    with_report["clinical"]["imaging"][0]["report_text"] = "L5-S1 extrusion."
    assert facts(with_report)["documentation.supporting"] is True
    with_note = copy.deepcopy(bare)
    with_note["attachments"] = [{"kind": "clinical_note", "date": "2026-11-01", "title": "Visit"}]
    assert facts(with_note)["documentation.supporting"] is True


@pytest.mark.parametrize(
    ("scale", "reported", "impaired"),
    [
        (None, False, None),
        ({"instrument": "odi", "score": 0}, True, False),
        ({"instrument": "odi", "score": 2}, True, True),
        ({"instrument": "rdq", "score": 0}, True, False),
        ({"instrument": "mjoa", "score": 18}, True, False),
        ({"instrument": "mjoa", "score": 12}, True, True),
    ],
)
def test_a_function_score_says_whether_there_is_a_disability(scale, reported, impaired):
    result = facts(esi_request(function_scale=scale))
    assert result["function.reported"] is reported
    assert result["function.impaired"] is impaired


def test_a_pain_score_of_zero_is_reported_and_known():
    result = facts(esi_request(pain_score_nrs=0))
    assert (result["pain.score"], result["pain.score_reported"]) == (0, True)
    assert facts(esi_request())["pain.score_reported"] is False


def _blocks(*entries) -> dict:
    data = esi_request(prior_procedures=list(entries))
    data["service"] = {"cpt_codes": ["64635"], "spinal_region": "lumbar", "levels": ["L4-L5"]}
    data["procedure_family"] = "radiofrequency_ablation"
    return data


def _block(on: str, **more) -> dict:
    return {"cpt_code": "64493", "date": on, "region": "lumbar", "levels": ["L4-L5"], **more}


def test_each_blocks_relief_duration_and_anaesthetic_are_read():
    result = facts(
        _blocks(
            _block("2026-09-10", agent="lidocaine 1%", relief_duration_hours=1.5),
            _block("2026-10-08", agent="Bupivacaine 0.5%", relief_duration_days=0.25),
        )
    )
    assert result["facet.last_block_relief_hours"] == 6
    assert result["facet.last_block_duration_reported"] is True
    assert result["facet.last_block_anaesthetic"] == "long_acting"
    assert result["facet.previous_block_relief_hours"] == 1.5
    assert result["facet.previous_block_anaesthetic"] == "short_acting"


def test_an_unreported_duration_or_agent_is_said_so_never_guessed():
    result = facts(_blocks(_block("2026-10-08", agent="saline")))
    assert result["facet.last_block_duration_reported"] is False
    assert result["facet.last_block_relief_hours"] is None
    assert result["facet.last_block_anaesthetic"] is None
    assert result["facet.previous_block_duration_reported"] is None  # no earlier block


def test_recurrence_after_radiotherapy_and_facet_resection_are_read():
    data = fusion_request(
        ["L4-L5"], oncology={"radiotherapy_to_level": True, "recurrence_after_radiotherapy": False}
    )
    data["service"]["facet_resection_percent"] = 60
    result = facts(data)
    assert result["oncology.recurrence_after_radiotherapy"] is False
    assert result["service.facet_resection_percent"] == 60
