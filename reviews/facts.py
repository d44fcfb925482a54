"""Facts: the plain mapping the criteria engine reads, derived from a request and the member's history.

`build_facts` is pure (plain data in, plain data out; the review date is an argument, never the
clock). It always returns every name in FACT_VOCABULARY, with None for what is unknown: a fact the
provider did not report is unknown, never "no" (REQUEST.md). `facts_for_request` is the only
function here that reads the database.

Conventions (criteria.md section 0, clinical/README.md):
- durations are end - start in whole days (no +1); an episode still going on ends at the review date;
- "N months" is calendar arithmetic; relief lasting N months is met when the relief reaches the
  calendar date N months after the procedure (`*_relief_months` are completed calendar months);
- relief percent is (baseline - post) / baseline * 100 on the one named scale of that procedure,
  computed when the provider gave scores but no percentage;
- rolling 12 months = sessions dated in (review date - 12 months, review date], same region
  (cervical, thoracic, lumbar/sacral), the requested session included;
- earlier procedures come from clinical.prior_procedures (care outside Lamina) and from the
  member's approved Lamina requests; one that appears in both (same date and code) counts once,
  and the provider's entry wins because it carries the relief scores;
- rest or bed rest is not conservative care (seed 002).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from criteria.engine import add_months
from criteria.vocabulary import FACTS
from reviews import spine
from reviews.reference import cpt_lookup

FACT_VOCABULARY: frozenset[str] = frozenset(FACTS)
FACT_FIELDS: dict[str, str] = {name: fact.field for name, fact in FACTS.items()}

# Levels, regions, spans and overlap: reviews/spine.py, the one model of the spine.
_AUGMENTABLE = ("T1", "L5")  # VA-01: T1-L5

_TRANSFORAMINAL = {"64479", "64480", "64483", "64484"}
_INTERLAMINAR = {"62320", "62321", "62322", "62323"}
_WITHOUT_IMAGING = {"62320", "62322"}
_THIRD_LEVEL_FACET = {"64492", "64495"}
_ADVANCED_IMAGING = {"mri", "ct", "ct_myelogram"}
_FAILED = {"failed", "not_tolerated", "partial_relief"}
_MEDICATIONS = {
    "nsaid",
    "acetaminophen",
    "muscle_relaxant",
    "neuropathic_agent",
    "oral_steroid",
    "opioid",
}
_REHABILITATION = {"physical_therapy", "home_exercise"}
_STEROIDS = {"triamcinolone", "dexamethasone", "methylprednisolone", "betamethasone"}
_SCALES = {"nrs", "vas_mm"}
_APPROVED = {"approved", "partially_approved"}
_METASTATIC_FINDINGS = {"osseous_metastasis", "epidural_tumor"}
# A request made for a neoplastic lesion says so: metastatic disease, a metastatic or myeloma
# fracture, or a code of a malignancy of the spine (secondary bone, vertebral column, myeloma).
_NEOPLASTIC_ETIOLOGIES = {"metastatic", "myeloma"}
_SPINAL_MALIGNANCY_CODES = ("C79.5", "C41.2", "C90")
# The local anaesthetics of diagnostic blocks by how long they act (FJ-05: relief lasting as long
# as the agent); the minimum hours are parameters of the facet policies.
_LONG_ACTING = ("bupivacaine", "ropivacaine")  # levobupivacaine included
_SHORT_ACTING = ("lidocaine", "lignocaine", "mepivacaine")
# Findings that show a fusion indication at the levels of their study (FU-14).
_FUSION_INDICATION_FINDINGS = {
    "spondylolisthesis",
    "spondylolysis",
    "central_stenosis",
    "foraminal_stenosis",
    "dynamic_instability",
    "deformity",
    "pseudarthrosis",
    "cord_compression",
    "cord_signal_change",
    "compression_fracture",
    "osseous_metastasis",
    "epidural_tumor",
    "marrow_replacement",
    "infection",
    "disc_herniation",
    "nerve_root_compression",
}
# Disc excisions (open, re-exploration, endoscopic): an earlier one at the level makes a
# herniation there a recurrence (FU-01).
_DISCECTOMY_CODES = {
    "62380",
    "63020",
    "63030",
    "63035",
    "63040",
    "63042",
    "63043",
    "63044",
    "63056",
}
# Fusion add-on codes that name a further interspace, and instrumentation codes that span more
# than one: each says the fusion has at least this many segments, whatever the levels list says.
_FUSION_MIN_SEGMENTS = {
    "22552": 2,
    "22585": 2,
    "22614": 2,
    "22632": 2,
    "22634": 2,
    "22842": 2,  # 3 to 6 vertebrae
    "22843": 6,  # 7 to 12 vertebrae
    "22844": 12,  # 13 or more
}
FUSION = "spinal_fusion"
# Bed rest under any label ("activity_modification: bed rest", "physical_therapy: rest at home").
_BED_REST = re.compile(
    r"\bbed[\s-]*rest|\bbedrest|\b(?:strict|complete|total|absolute)\s+rest\b|\brest(?:ing)?\s+(?:in|at)\s+(?:bed|home)\b",
    re.IGNORECASE,
)
_REST = re.compile(r"\brest(?:ing)?\b", re.IGNORECASE)
# Formal therapy is given at one visit a week or more (usually two or three): a course with its
# visits reported counts at most 7 days per visit. criteria.md asks for "dates and visits"
# (FU-03) and sets no figure: the conservative side, stated in criteria/README.md.
_DAYS_PER_VISIT = 7
# A "successful" earlier ablation, for FJ-11 (no diagnostic block at such a level): the repeat
# threshold of the CGS facet FAQ.
_SUCCESSFUL_RFA_RELIEF = 50

ESI = "epidural_steroid_injection"
FACET = "facet_injection"
RFA = "radiofrequency_ablation"


# --- small helpers ----------------------------------------------------------------------------


def _date(value: Any) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _number(value: Any) -> float | int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value


def _age(birth: date | None, on: date) -> int | None:
    if birth is None:
        return None
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def _completed_months(start: date, end: date) -> int:
    """The largest N with start + N calendar months <= end (0 when end is before that)."""
    months = (end.year - start.year) * 12 + end.month - start.month
    if months > 0 and add_months(start, months) > end:
        months -= 1
    return max(months, 0)


def _overlap(levels_a: Iterable[str], levels_b: Iterable[str]) -> bool | None:
    """Whether two level lists share a segment (or a vertebra): the one spine model's overlap."""
    return spine.overlap(levels_a, levels_b)


def _region_of(region: Any, levels: Iterable[str]) -> str | None:
    return spine.region_group(region, levels)


def _union_days(intervals: list[tuple[date, date]]) -> int:
    total = 0
    current: tuple[date, date] | None = None
    for start, end in sorted(intervals):
        if end < start:
            continue
        if current is None or start > current[1]:
            if current is not None:
                total += (current[1] - current[0]).days
            current = (start, end)
        else:
            current = (current[0], max(current[1], end))
    if current is not None:
        total += (current[1] - current[0]).days
    return total


# --- earlier procedures -----------------------------------------------------------------------


def _anaesthetic(agent: str) -> str | None:
    """short_acting or long_acting for a local anaesthetic named in the agent text, else None."""
    if any(name in agent for name in _LONG_ACTING):
        return "long_acting"
    if any(name in agent for name in _SHORT_ACTING):
        return "short_acting"
    return None


def _relief(entry: dict) -> tuple[float | None, bool | None]:
    """(relief percent, whether a named scale with baseline and post scores is recorded)."""
    scale = entry.get("pain_scale")
    baseline, post = _number(entry.get("baseline_score")), _number(entry.get("post_score"))
    same_scale = True if scale in _SCALES and baseline is not None and post is not None else None
    relief = _number(entry.get("relief_percent"))
    # Scores on one named scale win over a stated percent; the consistency check relief_scores
    # sends a disagreement beyond rounding to a reviewer.
    if same_scale and baseline > 0:
        relief = (baseline - post) / baseline * 100
    return relief, same_scale


def _procedures(clinical: dict, history: list[dict]) -> list[dict]:
    """Earlier procedures from both sources, deduplicated on (date, code)."""
    out: list[dict] = []
    seen: set[tuple[date, str]] = set()
    for entry in clinical.get("prior_procedures") or []:
        code, when = str(entry.get("cpt_code") or ""), _date(entry.get("date"))
        cpt = cpt_lookup(code)
        if when is None or cpt is None:
            continue
        relief, same_scale = _relief(entry)
        days = _number(entry.get("relief_duration_days"))
        hours = _number(entry.get("relief_duration_hours"))
        if days is None and hours is not None:
            days = hours / 24
        if hours is None and days is not None:
            hours = days * 24
        levels = entry.get("levels") or []
        agent = str(entry.get("agent") or "").lower()
        out.append(
            {
                "date": when,
                "code": code,
                "family": cpt.family,
                "region": _region_of(entry.get("region"), levels),
                "levels": levels,
                # Outside entries carry no intent: a steroid means a therapeutic injection,
                # an anaesthetic alone a diagnostic block.
                "intent": "therapeutic" if agent in _STEROIDS else "diagnostic",
                "relief": relief,
                "same_scale": same_scale,
                "hours": hours,
                "anaesthetic": _anaesthetic(agent),
                "relief_months": None
                if days is None
                else _completed_months(when, date.fromordinal(when.toordinal() + int(days))),
            }
        )
        seen.add((when, code))
    for item in history:
        determination = item.get("determination") or {}
        if item.get("status") == "withdrawn" or determination.get("outcome") not in _APPROVED:
            continue
        service = item.get("service") or {}
        codes = [str(c) for c in service.get("cpt_codes") or []]
        when = (
            _date(service.get("planned_date"))
            or _date(determination.get("valid_from"))
            or _date(item.get("received_at"))
        )
        if when is None or not codes or any((when, c) in seen for c in codes):
            continue
        levels = service.get("target_levels") or service.get("levels") or []
        out.append(
            {
                "date": when,
                "code": codes[0],
                "family": item.get("procedure_family") or "",
                "region": _region_of(service.get("spinal_region"), levels),
                "levels": levels,
                "intent": service.get("block_intent") or "diagnostic",
                # An approval counts in the history even while its planned date is ahead.
                "lamina": True,
                "relief": None,
                "same_scale": None,
                "hours": None,
                "anaesthetic": None,
                "relief_months": None,
            }
        )
    out.sort(key=lambda p: p["date"])
    return out


def _sessions(procedures: list[dict]) -> list[dict]:
    """One session per date: a first-level code and its add-ons on one day are one session.

    The entry with relief data represents the session, so a later add-on line without scores
    does not hide them.
    """
    by_date: dict[date, dict] = {}
    for proc in procedures:
        current = by_date.get(proc["date"])
        if current is None or (current["relief"] is None and proc["relief"] is not None):
            by_date[proc["date"]] = proc
    return [by_date[d] for d in sorted(by_date)]


def _in_window(when: date, review_date: date) -> bool:
    """In the rolling 12 months. The procedures read are those done by the review date and the
    member's Lamina approvals, whose planned date may still be ahead: those count too (a fifth
    session planned two weeks after the fourth is the fifth)."""
    return add_months(review_date, -12) < when


# --- the facts --------------------------------------------------------------------------------


def build_facts(
    *, request_data: dict, review_date: date, history: list[dict], member: dict
) -> dict:
    """Every fact of the vocabulary for one request on one review date (None = unknown)."""
    service = request_data.get("service") or {}
    clinical = request_data.get("clinical") or {}
    family = request_data.get("procedure_family") or ""
    codes = {str(c) for c in service.get("cpt_codes") or []}
    levels = service.get("target_levels") or service.get("levels") or []
    region = _region_of(service.get("spinal_region"), levels)
    service_date = _date(service.get("planned_date")) or review_date
    facts: dict[str, Any] = dict.fromkeys(FACT_VOCABULARY)

    # Member and service
    facts["member.age_years"] = _age(_date(member.get("birth_date")), review_date)
    facts["member.sex"] = member.get("sex") or None
    facts["service.spinal_region"] = service.get("spinal_region")
    facts["service.level_count"] = len(levels) if levels else None
    facts["service.laterality"] = service.get("laterality")
    facts["service.image_guidance"] = service.get("image_guidance")
    facts["service.contrast"] = _bool(service.get("contrast"))
    facts["service.technique"] = service.get("technique")
    if codes & _TRANSFORAMINAL:
        facts["service.approach"] = "transforaminal"
    elif codes & _INTERLAMINAR:
        facts["service.approach"] = "interlaminar"
    facts["service.without_image_guidance_code"] = bool(codes & _WITHOUT_IMAGING)
    facts["service.third_level_addon"] = bool(codes & _THIRD_LEVEL_FACET)
    if family == FUSION:
        facts["service.fused_segment_count"] = _fused_segment_count(levels, codes)
    facts["service.facet_resection_percent"] = _number(service.get("facet_resection_percent"))
    fused = clinical.get("prior_fusion_levels")
    if fused is not None:
        facts["service.levels_at_prior_fusion"] = bool(fused) and bool(_overlap(levels, fused))
    change = service.get("change_from_prior")
    if isinstance(change, dict):
        changed = any(
            v is True or (isinstance(v, str) and v.strip())
            for k, v in change.items()
            if k in {"approach", "levels", "injectate"}
        )
        facts["service.change_from_prior_documented"] = changed and bool(
            str(change.get("rationale") or "").strip()
        )
    facts["diagnosis.codes"] = [str(c).upper() for c in request_data.get("diagnosis_codes") or []]

    _symptoms_and_pain(facts, clinical, review_date)
    _neurological(facts, clinical)
    for key in (name.split(".", 1)[1] for name in FACTS if name.startswith("red_flags.")):
        facts[f"red_flags.{key}"] = _bool((clinical.get("red_flags") or {}).get(key))
    _labs(facts, clinical)
    _conservative_care(facts, clinical, review_date)
    _imaging(facts, clinical, request_data, region, levels)
    _documentation(facts, clinical, request_data)
    _history(facts, clinical, history, family, region, levels, service, review_date, service_date)
    _fracture(facts, clinical, levels, review_date)
    _oncology(facts, clinical)

    # Surgical readiness and contraindications
    facts["smoking.status"] = clinical.get("smoking_status")
    quit_date = _date(clinical.get("nicotine_free_since"))
    facts["nicotine.free_days"] = (review_date - quit_date).days if quit_date else None
    facts["nicotine.cotinine_ng_ml"] = _number(
        (clinical.get("nicotine_test") or {}).get("cotinine_ng_ml")
    )
    facts["nicotine.cotinine_reported"] = facts["nicotine.cotinine_ng_ml"] is not None
    facts["body.bmi"] = _number(clinical.get("bmi"))
    facts["metabolic.diabetes"] = _bool(clinical.get("diabetes"))
    facts["psych.unmanaged_disorder"] = _bool(
        (clinical.get("psych_screen") or {}).get("unmanaged_disorder")
    )
    facts["contraindications.coagulopathy"] = _bool(clinical.get("coagulopathy"))
    facts["contraindications.contrast_or_cement_allergy"] = _bool(
        clinical.get("contrast_or_cement_allergy")
    )
    facts["pregnancy.pregnant"] = _bool(clinical.get("pregnant"))
    return facts


def _fused_segment_count(levels: list, codes: set[str]) -> int | None:
    """The segments fused: those the levels name ('L4-S1' is two), at least as many as the
    additional-level codes say; a vertebra alone counts as one."""
    segments = {seg for span in spine.spans(levels) for seg in (span.segments() or [span])}
    implied = max((_FUSION_MIN_SEGMENTS.get(code, 0) for code in codes), default=0)
    if not segments and not implied:
        return None
    return max(len(segments), implied)


def _documentation(facts: dict, clinical: dict, request_data: dict) -> None:
    """A clinical note or imaging report supports the attested facts (GEN-10): any attachment, or
    an imaging study with its report text. None (ask for it) when there is neither."""
    imaging = clinical.get("imaging") or []
    if request_data.get("attachments") or any(s.get("report_text") for s in imaging):
        facts["documentation.supporting"] = True


def _is_bed_rest(episode: dict) -> bool:
    detail = str(episode.get("detail") or "")
    if _BED_REST.search(detail):
        return True
    return episode.get("modality") == "other" and bool(_REST.search(detail))


def _symptoms_and_pain(facts: dict, clinical: dict, review_date: date) -> None:
    onset = _date(clinical.get("symptom_onset_date"))
    facts["symptoms.onset_date"] = onset
    facts["symptoms.duration_days"] = (review_date - onset).days if onset else None
    facts["pain.type"] = clinical.get("pain_type")
    nrs, vas = _number(clinical.get("pain_score_nrs")), _number(clinical.get("pain_score_vas_mm"))
    # The LCDs write "NRS/VAS >= N" on a 0-10 scale: a VAS in mm is read as tenths.
    facts["pain.score"] = nrs if nrs is not None else (vas / 10 if vas is not None else None)
    facts["pain.score_reported"] = facts["pain.score"] is not None
    trajectory = sorted(
        (_date(p.get("date")), _number(p.get("nrs")))
        for p in clinical.get("pain_scores") or []
        if _date(p.get("date")) and _number(p.get("nrs")) is not None
    )
    points = [score for _, score in trajectory]
    if nrs is not None and points:
        points.append(nrs)  # the current score is the latest point
    if len(points) >= 2:
        facts["pain.worsening"] = points[-1] > points[0]
    scale = clinical.get("function_scale") or {}
    score = _number(scale.get("score"))
    facts["function.score"] = score
    facts["function.rdq_score"] = score if scale.get("instrument") == "rdq" else None
    facts["function.reported"] = score is not None
    # A score of 0 on ODI, NDI or RDQ is no disability; mJOA runs the other way (18 is normal).
    instrument = scale.get("instrument")
    if score is not None and instrument in {"odi", "ndi", "rdq"}:
        facts["function.impaired"] = score > 0
    elif score is not None and instrument == "mjoa":
        facts["function.impaired"] = score < 18


def _neurological(facts: dict, clinical: dict) -> None:
    neuro = clinical.get("neurological") or {}
    facts["neurological.radicular_signs"] = _bool(neuro.get("radicular_signs"))
    facts["neurological.myelopathy"] = _bool(neuro.get("myelopathy"))
    facts["neurological.bowel_bladder_dysfunction"] = _bool(neuro.get("bowel_bladder_dysfunction"))
    by_muscle: dict[str, list[tuple[date, float]]] = {}
    for exam in neuro.get("motor_exams") or []:
        when, grade = _date(exam.get("date")), _number(exam.get("grade"))
        if when and grade is not None:
            by_muscle.setdefault(str(exam.get("muscle") or ""), []).append((when, grade))
    grades = [g for g in [_number(neuro.get("motor_grade_mrc"))] if g is not None]
    worsening = comparable = False
    for exams in by_muscle.values():
        exams.sort()
        grades.append(exams[-1][1])
        if len(exams) >= 2:
            comparable = True
            # A worsening grade between dated exams is progressive even when the flag is absent.
            if any(
                later[1] < earlier[1] for i, earlier in enumerate(exams) for later in exams[i + 1 :]
            ):
                worsening = True
    facts["neurological.motor_grade_mrc"] = min(grades) if grades else None
    flag = _bool(neuro.get("progressive_motor_deficit"))
    if flag or worsening:
        facts["neurological.progressive_motor_deficit"] = True
    elif flag is False or comparable:
        facts["neurological.progressive_motor_deficit"] = False


def _labs(facts: dict, clinical: dict) -> None:
    highest: dict[str, float] = {}
    latest_hba1c: tuple[date, float] | None = None
    cultures: list[str] = []
    for lab in clinical.get("labs") or []:
        test, value = lab.get("test"), lab.get("value")
        if test == "blood_culture":
            cultures.append(str(value))
            continue
        number = _number(value)
        if number is None:
            continue
        if test == "hba1c_percent":
            when = _date(lab.get("date")) or date.min
            if latest_hba1c is None or when >= latest_hba1c[0]:
                latest_hba1c = (when, number)
        highest[test] = max(number, highest.get(test, number))
    facts["labs.max_temperature_c"] = highest.get("temperature_c")
    facts["labs.max_crp_mg_l"] = highest.get("crp_mg_l")
    facts["labs.max_esr_mm_h"] = highest.get("esr_mm_h")
    facts["labs.max_wbc_10e9_l"] = highest.get("wbc_10e9_l")
    if "positive" in cultures:
        facts["labs.blood_culture_positive"] = True
    elif cultures and all(c == "negative" for c in cultures):
        facts["labs.blood_culture_positive"] = False
    hba1c = _number(clinical.get("hba1c_percent"))
    facts["labs.hba1c_percent"] = hba1c if hba1c is not None else (latest_hba1c or (None, None))[1]


def _conservative_care(facts: dict, clinical: dict, review_date: date) -> None:
    episodes = clinical.get("conservative_care")
    if episodes is None:
        return
    # Bed rest is not conservative care (seed 002: it leads to worse outcomes), whatever modality
    # label the episode carries.
    care = [e for e in episodes if not _is_bed_rest(e)]
    # Care from an earlier episode, ended before the current symptoms began, is not care for
    # this one.
    onset = _date(clinical.get("symptom_onset_date"))
    care = [e for e in care if not (onset and (_date(e.get("end_date")) or onset) < onset)]
    failed = [e for e in care if e.get("outcome") in _FAILED]
    facts["conservative_care.any_tried"] = bool(care)
    facts["conservative_care.any_failed"] = bool(failed)
    facts["conservative_care.medication_trial"] = any(
        e.get("modality") in _MEDICATIONS for e in care
    )

    def interval(e: dict) -> tuple[date, date] | None:
        start = _date(e.get("start_date"))
        if start is None:
            return None
        end = _date(e.get("end_date")) or review_date  # still going on: ends at the review date
        end = min(end, review_date)
        visits = _number(e.get("visits"))
        if visits is not None:
            # Where visits are given, each visit carries at most one week of the course: one
            # visit in six weeks is not six weeks of therapy.
            end = min(end, date.fromordinal(start.toordinal() + int(visits) * _DAYS_PER_VISIT))
        return start, end

    failed_intervals = [i for i in (interval(e) for e in failed) if i]
    if failed and not failed_intervals:
        facts["conservative_care.failed_days"] = None  # failed care without dates: ask for them
    elif failed_intervals:
        start = min(s for s, _ in failed_intervals)
        end = max(e for _, e in failed_intervals)
        facts["conservative_care.failed_days"] = max((end - start).days, 0)
    else:
        facts["conservative_care.failed_days"] = 0
    pt = [interval(e) for e in failed if e.get("modality") == "physical_therapy"]
    if any(i is None for i in pt):
        facts["conservative_care.physical_therapy_days"] = None
    else:
        facts["conservative_care.physical_therapy_days"] = _union_days([i for i in pt if i])
    facts["conservative_care.active_rehab_ongoing"] = any(
        e.get("modality") in _REHABILITATION
        and (_date(e.get("end_date")) is None or _date(e.get("end_date")) >= review_date)
        for e in care
    )


def _imaging(
    facts: dict, clinical: dict, request_data: dict, region: str | None, levels: list
) -> None:
    studies = clinical.get("imaging")
    if studies is None:
        return
    findings = sorted({f for s in studies for f in s.get("findings") or []})
    facts["imaging.findings"] = findings
    advanced = [s for s in studies if s.get("modality") in _ADVANCED_IMAGING]

    def region_ok(study: dict) -> bool:
        study_region = _region_of(study.get("region"), study.get("levels") or [])
        return study_region is None or region is None or study_region == region

    def at_level(study: dict) -> bool | None:
        return _overlap(study.get("levels") or [], levels)

    concordance = [
        s.get("concordant_with_symptoms")
        for s in advanced
        if region_ok(s) and at_level(s) is not False
    ]
    if True in concordance:
        facts["imaging.advanced_concordant"] = True
    elif concordance and all(c is False for c in concordance):
        facts["imaging.advanced_concordant"] = False
    placed = [at_level(s) for s in advanced]
    if True in placed:
        facts["imaging.advanced_at_level"] = True
    elif placed and all(p is False for p in placed):
        facts["imaging.advanced_at_level"] = False
    attachments = request_data.get("attachments") or []
    if any(str(s.get("report_text") or "").strip() for s in advanced) or any(
        a.get("kind") == "imaging_report" for a in attachments
    ):
        facts["imaging.advanced_report_available"] = True
    dates = [d for d in (_date(s.get("date")) for s in advanced) if d]
    facts["imaging.latest_advanced_date"] = max(dates) if dates else None
    translations = [t for t in (_number(s.get("translation_mm")) for s in studies) if t is not None]
    facts["imaging.max_translation_mm"] = max(translations) if translations else None
    facts["imaging.instability_claimed"] = "dynamic_instability" in findings or bool(translations)
    facts["imaging.flexion_extension_done"] = any(
        s.get("modality") == "xray_flexion_extension" for s in studies
    )
    # A study reported normal cannot be concordant with the symptoms, nor list a pathology.
    facts["imaging.normal_study_contradicted"] = any(
        "normal" in (s.get("findings") or [])
        and (s.get("concordant_with_symptoms") is True or len(set(s.get("findings"))) > 1)
        for s in studies
    )
    facts["imaging.fused_levels_match_indication"] = _indication_at_every_level(studies, levels)
    facts["imaging.recurrent_herniation_at_level"] = _recurrent_herniation(
        clinical, advanced, levels
    )


def _indication_at_every_level(studies: list[dict], levels: list) -> bool | None:
    """Whether every treated segment lies where a study shows a fusion indication (the
    listhesis, stenosis or instability level): None when no such study names its levels."""
    treated = [seg for span in spine.spans(levels) for seg in (span.segments() or [span])]
    shown = [
        span
        for s in studies
        if set(s.get("findings") or []) & _FUSION_INDICATION_FINDINGS
        or (_number(s.get("translation_mm")) or 0) > 0
        for span in spine.spans(s.get("levels"))
    ]
    if not treated or not shown:
        return None
    return all(any(spine.span_overlap(seg, span) for span in shown) for seg in treated)


def _recurrent_herniation(clinical: dict, advanced: list[dict], levels: list) -> bool | None:
    """An earlier discectomy at a treated level and a disc herniation there again on MRI or CT.

    None when the request says nothing of an earlier discectomy."""
    operated = clinical.get("prior_discectomy_levels")
    from_procedures = [
        level
        for entry in clinical.get("prior_procedures") or []
        if str(entry.get("cpt_code") or "") in _DISCECTOMY_CODES
        for level in entry.get("levels") or []
    ]
    if operated is None and not from_procedures:
        return None
    operated = list(operated or []) + from_procedures
    again = [
        s.get("levels") or [] for s in advanced if "disc_herniation" in (s.get("findings") or [])
    ]
    return any(
        spine.overlap(operated, levels)
        and spine.overlap(study, levels)
        and spine.overlap(study, operated)
        for study in again
    )


def _history(
    facts: dict,
    clinical: dict,
    history: list[dict],
    family: str,
    region: str | None,
    levels: list,
    service: dict,
    review_date: date,
    service_date: date,
) -> None:
    # A procedure with no recorded region counts as the same region: over-counting a frequency
    # limit sends a case to a human, under-counting could approve one too many.
    procs = [
        p
        for p in _procedures(clinical, history)
        if (p["date"] <= review_date or p.get("lamina"))
        and (p["region"] is None or region is None or p["region"] == region)
    ]

    # Epidural steroid injections
    esi = _sessions([p for p in procs if p["family"] == ESI])
    esi_window = [s for s in esi if _in_window(s["date"], review_date)]
    facts["esi.sessions_rolling_12_months"] = len(esi_window) + (1 if family == ESI else 0)
    facts["esi.is_repeat"] = bool(esi_window)
    if esi_window:
        last = esi_window[-1]
        facts["esi.last_relief_percent"] = last["relief"]
        facts["esi.last_relief_months"] = last["relief_months"]
        facts["esi.last_same_scale"] = last["same_scale"]
        facts["esi.days_since_last"] = (service_date - last["date"]).days

    # Radiofrequency ablation
    rfa = _sessions([p for p in procs if p["family"] == RFA])
    facts["rfa.prior_count"] = len(rfa)
    facts["rfa.sessions_rolling_12_months"] = sum(
        1 for s in rfa if _in_window(s["date"], review_date)
    ) + (1 if family == RFA else 0)
    if rfa:
        last_rfa = rfa[-1]
        facts["rfa.last_date"] = last_rfa["date"]
        facts["rfa.last_relief_percent"] = last_rfa["relief"]
        facts["rfa.last_relief_months"] = last_rfa["relief_months"]
        facts["rfa.last_same_scale"] = last_rfa["same_scale"]

    # Facet blocks: the diagnostic blocks that count are those since the last ablation (FJ-08).
    facet = [p for p in procs if p["family"] == FACET]
    since = rfa[-1]["date"] if rfa else date.min
    blocks = _sessions([p for p in facet if p["intent"] == "diagnostic" and p["date"] > since])
    therapeutic = _sessions([p for p in facet if p["intent"] == "therapeutic"])
    intent = service.get("block_intent")
    if family == FACET and intent is None and not blocks:
        intent = "diagnostic"  # REQUEST.md: no earlier block means a first diagnostic block
    facts["service.block_intent"] = intent
    facts["facet.diagnostic_blocks_prior"] = len(blocks)
    if blocks:
        facts["facet.last_block_relief_percent"] = blocks[-1]["relief"]
        facts["facet.last_block_same_scale"] = blocks[-1]["same_scale"]
        facts["facet.days_since_last_block"] = (service_date - blocks[-1]["date"]).days
        _block_duration(facts, "last", blocks[-1])
    if len(blocks) >= 2:
        facts["facet.previous_block_relief_percent"] = blocks[-2]["relief"]
        _block_duration(facts, "previous", blocks[-2])
        facts["facet.days_between_last_two_blocks"] = (blocks[-1]["date"] - blocks[-2]["date"]).days
    diagnostic_now = family == FACET and intent in {"diagnostic", None}
    therapeutic_now = family == FACET and intent in {"therapeutic", None}
    all_blocks = _sessions([p for p in facet if p["intent"] == "diagnostic"])
    facts["facet.diagnostic_sessions_rolling_12_months"] = sum(
        1 for s in all_blocks if _in_window(s["date"], review_date)
    ) + (1 if diagnostic_now else 0)
    therapeutic_window = [s for s in therapeutic if _in_window(s["date"], review_date)]
    facts["facet.therapeutic_sessions_rolling_12_months"] = len(therapeutic_window) + (
        1 if therapeutic_now else 0
    )
    facts["facet.prior_therapeutic_count"] = len(therapeutic_window)
    if therapeutic_window:
        facts["facet.last_therapeutic_relief_percent"] = therapeutic_window[-1]["relief"]
        facts["facet.last_therapeutic_relief_months"] = therapeutic_window[-1]["relief_months"]
    successful = False
    if family == FACET and intent == "diagnostic":
        for session in rfa:
            if _overlap(session["levels"], levels) is False:
                continue
            if session["relief"] is None:
                successful = None if successful is False else successful
            elif session["relief"] >= _SUCCESSFUL_RFA_RELIEF:
                successful = True
    facts["facet.block_at_successful_rfa_level"] = successful


def _block_duration(facts: dict, which: str, block: dict) -> None:
    """How long a diagnostic block's relief lasted and which kind of anaesthetic gave it."""
    facts[f"facet.{which}_block_relief_hours"] = block["hours"]
    facts[f"facet.{which}_block_duration_reported"] = block["hours"] is not None
    facts[f"facet.{which}_block_anaesthetic"] = block["anaesthetic"]


def _fracture(facts: dict, clinical: dict, levels: list, review_date: date) -> None:
    fracture = clinical.get("fracture")
    if not isinstance(fracture, dict):
        return
    facts["fracture.etiology"] = fracture.get("etiology")
    onset = _date(fracture.get("onset_date")) or _date(clinical.get("symptom_onset_date"))
    facts["fracture.age_days"] = (review_date - onset).days if onset else None
    in_range = spine.within([fracture["level"]] if fracture.get("level") else levels, *_AUGMENTABLE)
    if in_range is not None:
        facts["fracture.level_in_range"] = in_range
    edema = _bool(fracture.get("mri_marrow_edema"))
    if edema is None and any(
        s.get("modality") == "mri" and "marrow_edema" in (s.get("findings") or [])
        for s in clinical.get("imaging") or []
    ):
        edema = True
    facts["fracture.mri_marrow_edema"] = edema
    for key in (
        "bone_scan_uptake",
        "hospitalized",
        "progressive_height_loss",
        "kyphotic_deformity",
        "retropulsion",
        "bone_density_referral",
    ):
        facts[f"fracture.{key}"] = _bool(fracture.get(key))
    facts["fracture.height_loss_percent"] = _number(fracture.get("height_loss_percent"))


def _oncology(facts: dict, clinical: dict) -> None:
    onc = clinical.get("oncology") if isinstance(clinical.get("oncology"), dict) else {}
    findings = set(facts["imaging.findings"] or [])
    fracture = clinical.get("fracture") if isinstance(clinical.get("fracture"), dict) else {}
    # Whether the request is on the metastatic pathway (FU-10): what the provider submitted says
    # so, or it does not. Never unknown: a degenerative case is not asked about cancer here.
    facts["oncology.metastatic_indication"] = bool(
        onc.get("metastatic_disease") is True
        or findings & _METASTATIC_FINDINGS
        or any(code.startswith("C79.5") for code in facts["diagnosis.codes"])
        or fracture.get("etiology") in {"metastatic", "myeloma"}
    )
    facts["oncology.neoplasm_declared"] = bool(
        onc.get("metastatic_disease") is True
        or fracture.get("etiology") in _NEOPLASTIC_ETIOLOGIES
        or any(code.startswith(_SPINAL_MALIGNANCY_CODES) for code in facts["diagnosis.codes"])
    )
    facts["oncology.life_expectancy_months"] = _number(onc.get("life_expectancy_months"))
    facts["oncology.ecog"] = _number(onc.get("ecog"))
    facts["oncology.epidural_tumor_abuts_cord"] = _bool(onc.get("epidural_tumor_abuts_cord"))
    grade = onc.get("escc_grade")
    facts["oncology.escc_grade"] = None if grade is None else str(grade)
    facts["oncology.sins_score"] = _number(onc.get("sins_score"))
    facts["oncology.radiotherapy_to_level"] = _bool(onc.get("radiotherapy_to_level"))
    facts["oncology.recurrence_after_radiotherapy"] = _bool(
        onc.get("recurrence_after_radiotherapy")
    )
    facts["oncology.deficit_progressing_despite_radiotherapy"] = _bool(
        onc.get("deficit_progressing_despite_radiotherapy")
    )


def request_inputs(pa_request) -> tuple[dict, list[dict], dict]:
    """(request data, history, member) of a stored request, as build_facts and the consistency
    checks read them: the only function here that reads the database.

    History is the member's other requests, withdrawn ones left out, each with its latest
    determination.
    """
    from reviews.models import PriorAuthRequest  # imported here: build_facts stays ORM-free

    member = pa_request.member
    others = (
        PriorAuthRequest.objects.filter(member_id=pa_request.member_id)
        .exclude(pk=pa_request.pk)
        .exclude(status="withdrawn")
        .prefetch_related("determinations")
        .order_by("received_at", "pk")
    )
    history = []
    for other in others:
        determinations = list(other.determinations.all())
        latest = max(determinations, key=lambda d: (d.decided_at, d.pk)) if determinations else None
        history.append(
            {
                "id": other.pk,
                "procedure_family": other.procedure_family,
                "service": other.service,
                "status": other.status,
                "received_at": other.received_at,
                "determination": None
                if latest is None
                else {
                    "outcome": latest.outcome,
                    "valid_from": latest.valid_from,
                    "valid_to": latest.valid_to,
                },
            }
        )
    request_data = {
        "service": pa_request.service,
        "clinical": pa_request.clinical,
        "diagnosis_codes": pa_request.diagnosis_codes,
        "procedure_family": pa_request.procedure_family,
        "urgency": pa_request.urgency,
        "line_of_business": pa_request.line_of_business,
        # Kind and date are all the facts read; note text stays out of the facts.
        "attachments": [
            {"kind": a.kind, "date": a.date, "title": a.title} for a in pa_request.attachments.all()
        ],
    }
    return request_data, history, {"birth_date": member.birth_date, "sex": member.sex}


def facts_for_request(pa_request, *, review_date: date) -> dict:
    """build_facts for a stored request."""
    request_data, history, member = request_inputs(pa_request)
    return build_facts(
        request_data=request_data, review_date=review_date, history=history, member=member
    )
