"""The adversarial cases: each a small change to an approvable base (tests/clinical/bases.py) that
a nurse, a physician or a request for information must see, never an approval.

A case names the class of the issue it belongs to (1 levels, sides and regions; 2 time; 3 scores;
4 imaging red flags; 5 trauma and fracture types; 6 conservative care and smoking; 7 fusion scope;
8 notes; 9 rules the criteria lacked), the route where a red flag decides it, and words one of
which the evaluation must give as the reason (a consistency check's name, a criterion, a note's
concept). Boundaries come in pairs: the approvable side is in BOUNDARIES_APPROVED, the other in
CASES.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from tests.clinical.bases import (
    APPROVABLE_UNDER,
    BASES,
    ago,
)

ESI = "epidural_steroid_injection"
FACET = "facet_injection"
RFA = "radiofrequency_ablation"
VA = "vertebral_augmentation"
FUSION = "spinal_fusion"
PHYSICIAN = "physician_review"

Change = Callable[[dict], None]


@dataclass(frozen=True)
class Case:
    id: str
    family: str
    cls: int
    change: Change
    route: str | None = None
    named: tuple[str, ...] = ()
    # An earlier request of the same member, submitted and evaluated first (the member's history).
    earlier: Change | None = None
    # Whether that earlier request is approved (else it is still open with a reviewer).
    earlier_approved: bool = True
    profiles: tuple[str, ...] = field(default=())

    def under(self) -> tuple[str, ...]:
        return self.profiles or APPROVABLE_UNDER[self.family]

    def body(self) -> dict:
        body = BASES[self.family]()
        self.change(body)
        return body


# --- small edits --------------------------------------------------------------------------------


def c(body: dict) -> dict:
    return body["clinical"]


def svc(**values) -> Change:
    def change(body):
        body["service"].update(values)

    return change


def clin(**values) -> Change:
    def change(body):
        c(body).update(values)

    return change


def both(*changes: Change) -> Change:
    def change(body):
        for one in changes:
            one(body)

    return change


def imaging(index: int = 0, **values) -> Change:
    def change(body):
        c(body)["imaging"][index].update(values)

    return change


def add_finding(*found: str) -> Change:
    def change(body):
        c(body)["imaging"][0]["findings"] = list(c(body)["imaging"][0]["findings"]) + list(found)

    return change


def red_flag(**values) -> Change:
    def change(body):
        c(body)["red_flags"].update(values)

    return change


def fracture(**values) -> Change:
    def change(body):
        c(body)["fracture"].update(values)

    return change


def block(index: int, **values) -> Change:
    """Edit one of the RFA base's two diagnostic blocks (0: the first, 1: the second)."""

    def change(body):
        c(body)["prior_procedures"][index].update(values)

    return change


def both_blocks(**values) -> Change:
    return both(block(0, **values), block(1, **values))


def note(text: str) -> Change:
    """One more sentence in the base's note."""

    def change(body):
        body["attachments"][0]["text"] += " " + text

    return change


def note_says(old: str, new: str) -> Change:
    """The base's note with one statement of its own changed."""

    def change(body):
        text = body["attachments"][0]["text"]
        assert old in text, old
        body["attachments"][0]["text"] = text.replace(old, new)

    return change


def care(*episodes: dict) -> Change:
    return clin(conservative_care=list(episodes))


def pt(start: int, end: int | None, visits: int | None = 10, **more) -> dict:
    episode = {
        "modality": "physical_therapy",
        "start_date": ago(start),
        "end_date": ago(end) if end is not None else None,
        "outcome": "failed",
        **more,
    }
    if visits is not None:
        episode["visits"] = visits
    return episode


def onset(days: int) -> Change:
    return clin(symptom_onset_date=ago(days))


def prior(**entry) -> Change:
    def change(body):
        c(body)["prior_procedures"] = list(c(body)["prior_procedures"] or []) + [entry]

    return change


def esi_onset(days: int) -> Change:
    """The ESI base with its episode `days` long: onset, imaging and care inside it."""
    return both(
        onset(days),
        imaging(date=ago(min(days, 20))),
        care(
            pt(days, 1, visits=8),
            {"modality": "nsaid", "start_date": ago(days), "end_date": None, "outcome": "failed"},
            {
                "modality": "home_exercise",
                "start_date": ago(1),
                "end_date": None,
                "outcome": "ongoing",
            },
        ),
    )


def fusion_pt_days(days: int) -> Change:
    def change(body):
        c(body)["conservative_care"][0].update(start_date=ago(days + 14), end_date=ago(14))

    return change


def va_fracture_age(days: int) -> Change:
    return both(
        onset(days),
        fracture(onset_date=ago(days)),
        imaging(date=ago(min(days - 1, 20))),
        care(
            {
                "modality": "acetaminophen",
                "start_date": ago(days),
                "end_date": None,
                "outcome": "failed",
            },
            {
                "modality": "bracing",
                "start_date": ago(days - 2),
                "end_date": None,
                "outcome": "failed",
            },
        ),
    )


def mbb_relief(percent: int) -> Change:
    """Both diagnostic blocks of the RFA base at `percent` relief, on a 0-100 mm scale."""
    return both(
        both_blocks(pain_scale="vas_mm", baseline_score=100, post_score=100 - percent),
        block(1, relief_percent=percent),
    )


def repeat_rfa(days: int) -> Change:
    """The RFA base, with a successful earlier ablation at the same levels `days` ago."""
    return prior(
        cpt_code="64635",
        date=ago(days),
        region="lumbar",
        levels=["L4-L5", "L5-S1"],
        laterality="bilateral",
        pain_scale="nrs",
        baseline_score=7,
        post_score=2,
        relief_duration_days=days - 10,
    )


def second_block(days: int, relief: int = 85, **more) -> Change:
    """The facet base as a second (confirmatory) block: the first `days` ago with `relief`."""
    entry = {
        "cpt_code": "64493",
        "date": ago(days),
        "region": "lumbar",
        "levels": ["L4-L5", "L5-S1"],
        "laterality": "bilateral",
        "agent": "lidocaine",
        "pain_scale": "nrs",
        "baseline_score": 7,
        "post_score": round(7 * (100 - relief) / 100, 1),
        "relief_percent": relief,
        "relief_duration_hours": 3,
        **more,
    }
    return both(prior(**entry), svc(block_intent="diagnostic"))


def esi_after_failed_first(days: int) -> Change:
    """The ESI base as a repeat after a failed first injection `days` ago, changed approach."""
    return both(
        prior(
            cpt_code="62323",
            date=ago(days),
            region="lumbar",
            levels=["L5-S1"],
            laterality="right",
            agent="triamcinolone",
            pain_scale="nrs",
            baseline_score=7,
            post_score=6,
            relief_percent=14,
        ),
        svc(
            change_from_prior={
                "approach": True,
                "levels": False,
                "injectate": False,
                "rationale": "Transforaminal to reach the S1 root after a failed interlaminar "
                "injection.",
            }
        ),
    )


def planned(days_ahead: int) -> Change:
    return svc(planned_date=ago(-days_ahead))


# --- the cases ------------------------------------------------------------------------------------

CASES: list[Case] = [
    # 1. Levels, sides and regions ----------------------------------------------------------------
    Case("esi-level-not-imaged", ESI, 1, svc(levels=["L3-L4"]), named=("levels_imaging",)),
    Case("esi-level-above-imaged", ESI, 1, svc(levels=["L4-L5"]), named=("levels_imaging",)),
    Case("esi-left-for-right-pathology", ESI, 1, svc(laterality="left"), named=("sides",)),
    Case(
        "esi-left-side-diagnosis-code",
        ESI,
        1,
        lambda b: b["diagnosis_codes"].append("M54.42"),
        named=("sides",),
    ),
    Case(
        "esi-transforaminal-names-no-side",
        ESI,
        1,
        lambda b: b["service"].pop("laterality"),
        named=("names no side",),
    ),
    Case(
        "esi-cervical-code-lumbar-region", ESI, 1, svc(cpt_codes=["64479"]), named=("region_codes",)
    ),
    Case(
        "esi-cervical-level-lumbar-code",
        ESI,
        1,
        both(svc(levels=["C5-C6"]), imaging(levels=["C5-C6"], region="cervical")),
        named=("region_codes",),
    ),
    Case(
        "esi-interlaminar-two-segments-away",
        ESI,
        1,
        both(svc(cpt_codes=["62323"], levels=["L3-L4"], laterality="midline")),
        named=("levels_imaging",),
    ),
    Case(
        "esi-thoracic-region-lumbar-code",
        ESI,
        1,
        svc(spinal_region="thoracic"),
        named=("region_codes",),
    ),
    Case(
        "facet-cervical-code-lumbar-levels",
        FACET,
        1,
        svc(cpt_codes=["64490", "64491"]),
        named=("region_codes",),
    ),
    Case(
        "facet-second-block-at-an-untested-level",
        FACET,
        1,
        both(second_block(28, levels=["L4-L5"]), svc(levels=["L4-L5", "L5-S1"])),
        named=("levels_blocks",),
    ),
    Case(
        "facet-bilateral-after-a-left-block",
        FACET,
        1,
        second_block(28, laterality="left"),
        named=("sides",),
    ),
    Case(
        "facet-left-first-block-for-right-facet-arthropathy",
        FACET,
        1,
        both(
            svc(laterality="left"),
            imaging(report_text="Right L4-L5 and L5-S1 facet arthropathy with small effusions."),
            note_says("bilateral L4-L5 and L5-S1", "L4-L5 and L5-S1"),
        ),
        named=("sides",),
    ),
    Case(
        "rfa-levels-the-blocks-did-not-test",
        RFA,
        1,
        svc(levels=["L3-L4", "L4-L5"]),
        named=("levels_blocks",),
    ),
    Case(
        "rfa-names-no-side",
        RFA,
        1,
        lambda b: b["service"].pop("laterality"),
        named=("names no side",),
    ),
    Case(
        "rfa-second-block-at-one-level",
        RFA,
        1,
        block(1, levels=["L5-S1"]),
        named=("levels_blocks",),
    ),
    Case(
        "rfa-bilateral-after-left-blocks", RFA, 1, both_blocks(laterality="left"), named=("sides",)
    ),
    Case(
        "rfa-right-after-left-blocks",
        RFA,
        1,
        both(both_blocks(laterality="left"), svc(laterality="right")),
        named=("sides",),
    ),
    Case(
        "rfa-cervical-code-lumbar-levels",
        RFA,
        1,
        svc(cpt_codes=["64633", "64634"]),
        named=("region_codes",),
    ),
    Case("va-level-above-the-fracture", VA, 1, svc(levels=["T12"]), named=("levels_fracture",)),
    Case(
        "va-names-no-level",
        VA,
        1,
        lambda b: b["service"].pop("levels"),
        named=("names no level",),
    ),
    Case("va-fracture-level-elsewhere", VA, 1, fracture(level="L3"), named=("levels_fracture",)),
    Case(
        "va-imaging-shows-another-vertebra",
        VA,
        1,
        imaging(levels=["T8"]),
        named=("levels_fracture",),
    ),
    Case("va-thoracic-code-lumbar-level", VA, 1, svc(cpt_codes=["22513"]), named=("region_codes",)),
    Case("fusion-level-not-imaged", FUSION, 1, svc(levels=["L2-L3"]), named=("levels_imaging",)),
    Case(
        "fusion-cervical-code-lumbar-level",
        FUSION,
        1,
        svc(cpt_codes=["22551", "22853"]),
        named=("region_codes",),
    ),
    Case(
        "fusion-thoracic-region",
        FUSION,
        1,
        svc(spinal_region="thoracic"),
        named=("region_codes",),
    ),
    # 2. Time -------------------------------------------------------------------------------------
    Case("esi-pain-27-days", ESI, 2, esi_onset(27), named=("esi-0",)),
    Case(
        "esi-care-only-from-an-earlier-episode",
        ESI,
        2,
        care(pt(900, 840, visits=12)),
        named=("esi-05",),
    ),
    Case(
        "esi-relief-longer-than-elapsed",
        ESI,
        2,
        prior(
            cpt_code="64483",
            date=ago(100),
            region="lumbar",
            levels=["L5-S1"],
            laterality="right",
            pain_scale="nrs",
            baseline_score=8,
            post_score=2,
            relief_duration_days=150,
        ),
        named=("relief_duration_elapsed",),
    ),
    Case(
        "esi-repeat-13-days-after",
        ESI,
        2,
        esi_after_failed_first(13),
        named=("repeat_interval", "esi-"),
    ),
    Case(
        "esi-second-approval-planned-five-days-apart",
        ESI,
        2,
        planned(12),
        earlier=planned(7),
        named=("repeat_interval",),
    ),
    Case(
        "esi-while-a-request-five-days-apart-is-with-a-reviewer",
        ESI,
        2,
        planned(12),
        earlier=both(
            planned(7),
            svc(levels=["L4-L5"]),
            imaging(levels=["L4-L5", "L5-S1"]),
            lambda b: b["diagnosis_codes"].append("M54.42"),
        ),
        earlier_approved=False,
        named=("repeat_interval",),
    ),
    Case(
        "facet-second-block-13-days-after-the-first",
        FACET,
        2,
        second_block(13),
        named=("fj-0",),
    ),
    Case(
        "facet-block-relief-longer-than-elapsed",
        FACET,
        2,
        second_block(20, relief_duration_hours=24 * 30),
        named=("relief_duration_elapsed",),
    ),
    Case("rfa-repeat-4-months-after", RFA, 2, repeat_rfa(120), named=("repeat_interval",)),
    Case(
        "rfa-block-relief-longer-than-elapsed",
        RFA,
        2,
        block(1, relief_duration_days=400),
        named=("relief_duration_elapsed",),
    ),
    Case(
        "rfa-earlier-approval-planned-ahead",
        RFA,
        2,
        planned(30),
        earlier=planned(60),
        named=("repeat_interval",),
    ),
    Case("va-fracture-85-days-old", VA, 2, va_fracture_age(85), named=("va-0",)),
    Case("fusion-pt-41-days", FUSION, 2, fusion_pt_days(41), named=("fu-03",)),
    Case(
        "fusion-pt-from-an-earlier-episode",
        FUSION,
        2,
        lambda b: c(b)["conservative_care"][0].update(
            start_date="2023-01-10", end_date="2023-03-20"
        ),
        named=("fu-03",),
    ),
    Case(
        "fusion-imaging-13-months-old",
        FUSION,
        2,
        both(imaging(0, date=ago(400)), imaging(1, date=ago(400))),
        named=("fu-",),
    ),
    # 3. Scores -----------------------------------------------------------------------------------
    Case(
        "rfa-stated-86-scores-give-43",
        RFA,
        3,
        block(1, baseline_score=7, post_score=4, relief_percent=86),
        named=("relief_scores",),
    ),
    Case("rfa-blocks-79-percent", RFA, 3, mbb_relief(79), named=("fj-06",)),
    Case(
        "rfa-stated-91-scores-give-80",
        RFA,
        3,
        both(mbb_relief(80), block(1, relief_percent=91)),
        named=("relief_scores",),
    ),
    Case(
        "facet-second-block-stated-85-scores-give-50",
        FACET,
        3,
        second_block(28, baseline_score=8, post_score=4),
        named=("relief_scores",),
    ),
    Case("esi-pain-score-0", ESI, 3, clin(pain_score_nrs=0), named=("gen-", "esi-")),
    Case(
        "esi-repeat-stated-60-scores-give-25",
        ESI,
        3,
        prior(
            cpt_code="64483",
            date=ago(150),
            region="lumbar",
            levels=["L5-S1"],
            laterality="right",
            agent="triamcinolone",
            pain_scale="nrs",
            baseline_score=8,
            post_score=6,
            relief_percent=60,
            relief_duration_days=120,
        ),
        named=("relief_scores",),
    ),
    Case("facet-pain-score-0", FACET, 3, clin(pain_score_nrs=0), named=("fj-01",)),
    Case(
        "rfa-function-score-0",
        RFA,
        3,
        clin(function_scale={"instrument": "odi", "score": 0}),
        named=("fj-01",),
    ),
    Case("va-pain-score-0", VA, 3, both(clin(pain_score_nrs=0, pain_scores=[])), named=("va-",)),
    Case(
        "fusion-function-score-0",
        FUSION,
        3,
        clin(function_scale={"instrument": "odi", "score": 0}, pain_score_nrs=0),
        named=("fu-",),
    ),
    # 4. Imaging red flags --------------------------------------------------------------------------
    Case(
        "esi-osseous-metastasis",
        ESI,
        4,
        add_finding("osseous_metastasis"),
        PHYSICIAN,
        named=("metasta",),
    ),
    Case("esi-epidural-tumour", ESI, 4, add_finding("epidural_tumor"), PHYSICIAN, named=("tumo",)),
    Case(
        "esi-marrow-replacement",
        ESI,
        4,
        add_finding("indeterminate_marrow_lesion"),
        PHYSICIAN,
        named=("marrow",),
    ),
    Case(
        "esi-cord-compression", ESI, 4, add_finding("cord_compression"), PHYSICIAN, named=("cord",)
    ),
    Case(
        "esi-normal-study-marked-concordant",
        ESI,
        4,
        imaging(findings=["normal"]),
        named=("normal",),
    ),
    Case(
        "esi-concordant-study-lists-no-finding",
        ESI,
        4,
        imaging(findings=[]),
        named=("lists no finding",),
    ),
    Case(
        "fusion-concordant-studies-list-no-finding",
        FUSION,
        4,
        both(imaging(0, findings=[]), imaging(1, findings=[])),
        named=("lists no finding",),
    ),
    Case(
        "facet-osseous-metastasis",
        FACET,
        4,
        add_finding("osseous_metastasis"),
        PHYSICIAN,
        named=("metasta",),
    ),
    Case("facet-infection", FACET, 4, add_finding("infection"), PHYSICIAN, named=("infect",)),
    Case("rfa-epidural-tumour", RFA, 4, add_finding("epidural_tumor"), PHYSICIAN, named=("tumo",)),
    Case(
        "rfa-marrow-replacement",
        RFA,
        4,
        add_finding("indeterminate_marrow_lesion"),
        PHYSICIAN,
        named=("marrow",),
    ),
    Case(
        "va-marrow-replacement",
        VA,
        4,
        add_finding("indeterminate_marrow_lesion"),
        PHYSICIAN,
        named=("marrow",),
    ),
    Case("va-epidural-tumour", VA, 4, add_finding("epidural_tumor"), PHYSICIAN, named=("tumo",)),
    Case(
        "va-fracture-with-instability",
        VA,
        4,
        add_finding("dynamic_instability"),
        PHYSICIAN,
        named=("instab",),
    ),
    Case(
        "fusion-osseous-metastasis",
        FUSION,
        4,
        add_finding("osseous_metastasis"),
        PHYSICIAN,
        named=("metasta",),
    ),
    Case("fusion-infection", FUSION, 4, add_finding("infection"), PHYSICIAN, named=("infect",)),
    Case(
        "fusion-normal-study-marked-concordant",
        FUSION,
        4,
        both(imaging(0, findings=["normal"]), imaging(1, findings=["normal"])),
        named=("normal",),
    ),
    # 5. Trauma and fracture types ------------------------------------------------------------------
    Case(
        "esi-significant-trauma",
        ESI,
        5,
        red_flag(significant_trauma=True),
        PHYSICIAN,
        named=("trauma",),
    ),
    Case(
        "facet-significant-trauma",
        FACET,
        5,
        red_flag(significant_trauma=True),
        PHYSICIAN,
        named=("trauma",),
    ),
    Case(
        "rfa-significant-trauma",
        RFA,
        5,
        red_flag(significant_trauma=True),
        PHYSICIAN,
        named=("trauma",),
    ),
    Case("va-traumatic-fracture", VA, 5, fracture(etiology="traumatic"), named=("va-",)),
    Case(
        "va-osteoporotic-label-after-significant-trauma",
        VA,
        5,
        red_flag(significant_trauma=True),
        named=("trauma", "va-09"),
    ),
    Case(
        "va-escc-1c",
        VA,
        5,
        both(
            fracture(etiology="metastatic"),
            clin(
                oncology={
                    "metastatic_disease": True,
                    "primary_cancer": "breast",
                    "life_expectancy_months": 24,
                    "ecog": 1,
                    "escc_grade": "1c",
                    "epidural_tumor_abuts_cord": False,
                }
            ),
            red_flag(cancer_history=True),
        ),
        PHYSICIAN,
        named=("va-08", "escc"),
    ),
    # 6. Conservative care and smoking --------------------------------------------------------------
    Case(
        "esi-bed-rest-labelled-physical-therapy",
        ESI,
        6,
        care(pt(63, 14, visits=None, detail="strict bed rest")),
        named=("esi-05",),
    ),
    Case(
        "esi-bed-rest-labelled-activity-modification",
        ESI,
        6,
        care(
            {
                "modality": "activity_modification",
                "start_date": ago(63),
                "end_date": ago(14),
                "outcome": "failed",
                "detail": "bed rest for two weeks",
            }
        ),
        named=("esi-05",),
    ),
    Case(
        "fusion-bed-rest-labelled-physical-therapy",
        FUSION,
        6,
        lambda b: c(b)["conservative_care"][0].update(detail="bed rest at home", visits=0),
        named=("fu-03",),
    ),
    Case(
        "fusion-two-pt-visits-over-seven-weeks",
        FUSION,
        6,
        lambda b: c(b)["conservative_care"][0].update(visits=2),
        named=("fu-03",),
    ),
    Case(
        "fusion-never-smoked-positive-cotinine",
        FUSION,
        6,
        clin(nicotine_test={"date": ago(10), "cotinine_ng_ml": 250}),
        named=("fu-0", "cotinine", "nicotine"),
    ),
    Case(
        "fusion-former-smoker-quit-41-days-ago",
        FUSION,
        6,
        clin(smoking_status="former", nicotine_free_since=ago(41)),
        named=("fu-0",),
    ),
    Case("fusion-current-smoker", FUSION, 6, clin(smoking_status="current"), named=("fu-0",)),
    Case(
        "rfa-bed-rest-only",
        RFA,
        6,
        care(
            {
                "modality": "physical_therapy",
                "start_date": "2026-01-12",
                "end_date": "2026-03-23",
                "outcome": "failed",
                "detail": "bed rest",
            }
        ),
        named=("fj-02",),
    ),
    Case(
        "facet-bed-rest-only",
        FACET,
        6,
        care(
            {
                "modality": "other",
                "start_date": "2026-01-12",
                "end_date": "2026-03-23",
                "outcome": "failed",
                "detail": "bed rest for several weeks",
            }
        ),
        named=("fj-02",),
    ),
    Case(
        "va-bed-rest-labelled-bracing",
        VA,
        6,
        care(
            {
                "modality": "bracing",
                "start_date": ago(25),
                "end_date": None,
                "outcome": "failed",
                "detail": "strict bed rest, no brace fitted",
            }
        ),
        named=("va-",),
    ),
    # 7. Fusion scope -------------------------------------------------------------------------------
    Case(
        "fusion-two-levels-degenerative",
        FUSION,
        7,
        both(
            svc(levels=["L3-L4", "L4-L5"], units=2),
            imaging(0, levels=["L3-L4", "L4-L5"]),
            imaging(1, levels=["L3-L4", "L4-L5"]),
        ),
        named=("fu-",),
    ),
    Case(
        "fusion-three-levels-degenerative",
        FUSION,
        7,
        both(
            svc(levels=["L2-L3", "L3-L4", "L4-L5"], units=3),
            imaging(0, levels=["L2-L3", "L3-L4", "L4-L5"]),
            imaging(1, levels=["L2-L3", "L3-L4", "L4-L5"]),
        ),
        named=("fu-",),
    ),
    Case(
        "fusion-listhesis-below-the-fused-level",
        FUSION,
        7,
        both(imaging(0, levels=["L5-S1"]), imaging(1, levels=["L5-S1"])),
        named=("levels_imaging", "fu-"),
    ),
    Case(
        "fusion-adds-a-level-without-listhesis",
        FUSION,
        7,
        svc(levels=["L4-L5", "L5-S1"], units=2),
        named=("fu-", "levels_imaging"),
    ),
    # 8. Notes --------------------------------------------------------------------------------------
    Case("rfa-note-says-72-percent", RFA, 8, note_says("about 85", "about 72"), named=("72 %",)),
    Case("rfa-note-says-79-percent", RFA, 8, note_says("about 85", "about 79"), named=("79 %",)),
    Case(
        "esi-note-new-saddle-numbness",
        ESI,
        8,
        note("New saddle numbness since yesterday."),
        PHYSICIAN,
        named=("saddle",),
    ),
    Case(
        "esi-note-two-pt-visits",
        ESI,
        8,
        note_says(
            "Completed 7 weeks of physical therapy (10 visits)",
            "Stopped physical therapy after 2 visits because of cost,",
        ),
        named=("physical therapy",),
    ),
    Case(
        "facet-note-metastatic-cancer",
        FACET,
        8,
        note("History of metastatic prostate cancer to the spine."),
        PHYSICIAN,
        named=("cancer",),
    ),
    Case(
        "rfa-note-fever",
        RFA,
        8,
        note("Febrile to 38.9 today with chills."),
        PHYSICIAN,
        named=("fever", "febrile"),
    ),
    Case(
        "va-note-fell-from-a-ladder",
        VA,
        8,
        note("The pain began after he fell from a ladder onto his back."),
        PHYSICIAN,
        named=("trauma",),
    ),
    Case(
        "fusion-note-no-physical-therapy",
        FUSION,
        8,
        note_says(
            "Seven weeks of physical therapy (14 visits) and naproxen",
            "Has not tried physical therapy; naproxen",
        ),
        named=("physical therapy",),
    ),
    Case(
        "fusion-note-bladder",
        FUSION,
        8,
        note("New urinary retention since last week."),
        PHYSICIAN,
        named=("urinary",),
    ),
    # 9. Rules the criteria lacked ------------------------------------------------------------------
    Case(
        "facet-block-relief-shorter-than-the-anaesthetic",
        FACET,
        9,
        second_block(28, agent="bupivacaine", relief_duration_hours=0.5),
        named=("fj-05",),
    ),
    Case(
        "facet-third-diagnostic-block",
        FACET,
        9,
        both(second_block(60), second_block(30)),
        named=("fj-05", "fj-0"),
    ),
    Case(
        "rfa-block-relief-shorter-than-the-anaesthetic",
        RFA,
        9,
        both(
            block(1, agent="bupivacaine", relief_duration_hours=0.5),
            block(0, agent="lidocaine", relief_duration_hours=0.25),
        ),
        named=("fj-05", "fj-06"),
    ),
    Case(
        "va-no-documentation-at-all",
        VA,
        9,
        both(lambda b: b.update(attachments=[]), imaging(report_text="")),
        named=("gen-10", "documentation"),
    ),
    Case(
        "fusion-radiotherapy-alone",
        FUSION,
        9,
        both(
            clin(
                oncology={
                    "metastatic_disease": True,
                    "primary_cancer": "lung",
                    "life_expectancy_months": 24,
                    "ecog": 1,
                    "radiotherapy_to_level": True,
                }
            ),
            red_flag(cancer_history=True),
            lambda b: b["diagnosis_codes"].append("C79.51"),
        ),
        named=("fu-10", "gen-02", "cancer"),
    ),
    Case(
        "esi-no-documentation-at-all",
        ESI,
        9,
        both(lambda b: b.update(attachments=[]), imaging(report_text="")),
        named=("gen-06", "documentation"),
    ),
]

# The approvable side of each boundary above: the same change one step inside the threshold.
BOUNDARIES_APPROVED: list[Case] = [
    Case("esi-pain-28-days", ESI, 2, esi_onset(28)),
    Case("esi-repeat-14-days-after", ESI, 2, esi_after_failed_first(14)),
    Case("va-fracture-84-days-old", VA, 2, va_fracture_age(84)),
    Case("fusion-pt-42-days", FUSION, 2, fusion_pt_days(42)),
    Case(
        "fusion-former-smoker-quit-42-days-ago",
        FUSION,
        6,
        clin(smoking_status="former", nicotine_free_since=ago(42)),
    ),
    Case("rfa-blocks-80-percent", RFA, 3, mbb_relief(80)),
    Case("rfa-stated-90-scores-give-80", RFA, 3, both(mbb_relief(80), block(1, relief_percent=90))),
    Case("facet-second-block-14-days-after-the-first", FACET, 2, second_block(14)),
    Case("rfa-note-says-80-percent", RFA, 8, note_says("about 85", "about 80")),
    Case(
        "va-note-fell-from-standing-height",
        VA,
        8,
        note("The pain began after a fall from standing height at home."),
    ),
    Case(
        "va-note-ground-level-fall-denies-significant-trauma",
        VA,
        8,
        note("Ground-level fall in the kitchen. No significant trauma."),
    ),
]
