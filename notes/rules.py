"""What Lamina looks for in a clinical note, and how each concept relates to the attested facts.

Three kinds of concept: red flags (GEN-01..05 and the fracture flags), conservative care (the
modalities of REQUEST.md `clinical.conservative_care`), and prior procedures. Each concept is
found by medspaCy target rules: literals (matched case-insensitively on whole tokens) and token
patterns for the variants. ConText then says whether each mention is negated, historical,
hypothetical or about someone else; CONTEXT_RULES adds to medspaCy's defaults what spine notes
need.

RULES_VERSION names this rule set: an attachment read under an older version is read again.
"""

from dataclasses import dataclass, field

RULES_VERSION = "2026.12-1"

RED_FLAG = "red_flag"
CONSERVATIVE_CARE = "conservative_care"
PRIOR_PROCEDURE = "prior_procedure"
# Matched so that a longer phrase ("cancer screening", "weight loss program") wins over the red
# flag inside it; never stored.
PSEUDO = "pseudo"


@dataclass(frozen=True)
class Concept:
    name: str
    category: str
    label: str  # plain words for the reviewer
    # Red flags: the attested facts (dotted paths under `clinical`) any one of which, when true,
    # agrees with an affirmed mention. False or missing (unknown) disagrees.
    attested: tuple[str, ...] = ()
    criterion: str = ""
    # Whether a mention in the patient's history still counts: a cancer treated years ago is a
    # cancer history; a fever last winter is not a fever now.
    history_counts: bool = False
    literals: tuple[str, ...] = ()
    patterns: tuple[tuple[dict, ...], ...] = field(default=())
    # Words that, in a denial of this concept, grade the note's own mentions of it: a note that
    # tells of a fall and denies significant trauma says the fall was not significant trauma.
    graded_by_denial: tuple[str, ...] = ()


def _in(*words: str) -> dict:
    # One word is a plain attribute test: spaCy's matcher checks those natively, while each IN
    # set is a Python predicate run on every token of every note (half the matcher's time).
    return {"LOWER": words[0]} if len(words) == 1 else {"LOWER": {"IN": list(words)}}


def _opt(*words: str) -> dict:
    return {**_in(*words), "OP": "?"}


_PROGRESSIVE = ("progressive", "progressing", "worsening", "increasing", "new", "new-onset")
_STEROIDS = (
    "steroid",
    "steroids",
    "corticosteroid",
    "corticosteroids",
    "prednisone",
    "glucocorticoid",
    "glucocorticoids",
)
_FALL_WORDS = ("fall", "fell", "falls")
# The low-energy falls: the mechanism of a fragility fracture, not significant trauma (a fall
# from standing height or less, ACR Appropriateness Criteria and the osteoporosis guidelines).
_LOW_FALLS = (
    "ground-level fall",
    "ground level fall",
    "low-energy fall",
    "low energy fall",
    "mechanical fall",
    "minor fall",
    "trivial fall",
    "simple fall",
)
_STANDING = ("standing", "sitting", "seated", "chair", "bed", "toilet", "couch", "sofa")

CONCEPTS: tuple[Concept, ...] = (
    # --- Cauda equina syndrome (GEN-03) ------------------------------------------------------
    Concept(
        "saddle_anesthesia",
        RED_FLAG,
        "saddle anesthesia",
        ("red_flags.cauda_equina",),
        "GEN-03",
        literals=(
            "saddle anesthesia",
            "saddle anaesthesia",
            "saddle numbness",
            "saddle paresthesia",
            "saddle paresthesias",
            "saddle hypoesthesia",
            "saddle sensory loss",
            "perineal numbness",
            "perianal numbness",
        ),
        patterns=(
            (
                _in("numbness", "numb", "paresthesia", "paresthesias", "tingling"),
                _in("in", "of", "over", "around"),
                _opt("the", "her", "his"),
                _in("saddle", "perineal", "perianal", "perineum", "groin", "genitals", "genital"),
                _opt("area", "region", "distribution"),
            ),
            (
                _in("decreased", "diminished", "reduced", "absent", "altered", "impaired"),
                _in("saddle", "perineal", "perianal", "perineum"),
                _in("sensation", "numbness", "sensory"),
            ),
            (
                _in("decreased", "diminished", "reduced", "absent", "loss"),
                _opt("of"),
                _in("sensation"),
                _in("in", "over"),
                _opt("the"),
                _in("saddle", "perineal", "perianal", "perineum"),
                _opt("area", "region", "distribution"),
            ),
        ),
    ),
    Concept(
        "urinary_retention",
        RED_FLAG,
        "urinary retention",
        ("red_flags.cauda_equina", "neurological.bowel_bladder_dysfunction"),
        "GEN-03",
        literals=(
            "urinary retention",
            "retention of urine",
            "inability to void",
            "unable to void",
            "difficulty voiding",
            "difficulty urinating",
            "trouble urinating",
        ),
    ),
    Concept(
        "urinary_incontinence",
        RED_FLAG,
        "urinary incontinence",
        ("red_flags.cauda_equina", "neurological.bowel_bladder_dysfunction"),
        "GEN-03",
        literals=(
            "urinary incontinence",
            "bladder incontinence",
            "incontinence of urine",
            "incontinent of urine",
            "loss of bladder control",
            "bladder dysfunction",
            "incontinence",
        ),
    ),
    Concept(
        "bowel_incontinence",
        RED_FLAG,
        "bowel incontinence",
        ("red_flags.cauda_equina", "neurological.bowel_bladder_dysfunction"),
        "GEN-03",
        literals=(
            "fecal incontinence",
            "faecal incontinence",
            "bowel incontinence",
            "incontinence of stool",
            "incontinent of stool",
            "loss of bowel control",
            "bowel dysfunction",
        ),
    ),
    Concept(
        "bowel_bladder_dysfunction",
        RED_FLAG,
        "bowel or bladder dysfunction",
        ("red_flags.cauda_equina", "neurological.bowel_bladder_dysfunction"),
        "GEN-03",
        patterns=(
            (
                _in("bowel", "bladder"),
                _in("or", "and", "/"),
                _in("bladder", "bowel"),
                _in(
                    "dysfunction",
                    "changes",
                    "change",
                    "incontinence",
                    "symptoms",
                    "problems",
                    "issues",
                    "complaints",
                    "difficulty",
                    "difficulties",
                ),
            ),
            (
                _in("loss"),
                _in("of"),
                _in("bowel", "bladder"),
                _in("or", "and", "/"),
                _in("bladder", "bowel"),
                _opt("control", "function"),
            ),
        ),
    ),
    Concept(
        "reduced_rectal_tone",
        RED_FLAG,
        "reduced rectal tone",
        ("red_flags.cauda_equina",),
        "GEN-03",
        patterns=(
            (
                _in("decreased", "diminished", "reduced", "poor", "lax", "absent", "weak"),
                _in("rectal", "anal", "sphincter"),
                _in("tone"),
            ),
            (
                _in("rectal", "anal", "sphincter"),
                _in("tone"),
                _opt("is", "was"),
                _in("decreased", "diminished", "reduced", "poor", "lax", "absent", "weak"),
            ),
        ),
    ),
    Concept(
        "cauda_equina_syndrome",
        RED_FLAG,
        "cauda equina syndrome",
        ("red_flags.cauda_equina",),
        "GEN-03",
        literals=("cauda equina syndrome", "cauda equina symptoms", "cauda equina compression"),
    ),
    # --- Infection (GEN-01) --------------------------------------------------------------------
    Concept(
        "fever",
        RED_FLAG,
        "fever",
        ("red_flags.fever",),
        "GEN-01",
        literals=(
            "fever",
            "fevers",
            "febrile",
            "pyrexia",
            "elevated temperature",
            "temperature elevation",
        ),
    ),
    Concept(
        "bacteremia",
        RED_FLAG,
        "recent bacteremia",
        ("red_flags.recent_bacteremia",),
        "GEN-01",
        literals=(
            "bacteremia",
            "bacteraemia",
            "sepsis",
            "septicemia",
            "positive blood cultures",
            "positive blood culture",
            "blood cultures positive",
        ),
    ),
    Concept(
        "iv_drug_use",
        RED_FLAG,
        "IV drug use",
        ("red_flags.iv_drug_use",),
        "GEN-01",
        history_counts=True,
        literals=(
            "ivdu",
            "ivda",
            "pwid",
            "injects heroin",
            "injected heroin",
            "injecting heroin",
            "injects drugs",
            "injected drugs",
            "injecting drugs",
        ),
        patterns=(
            (
                _in("iv", "intravenous", "injection"),
                _in("drug", "heroin", "opioid"),
                _in("use", "user", "users", "abuse", "abuser"),
            ),
        ),
    ),
    Concept(
        "immunosuppression",
        RED_FLAG,
        "immunosuppression",
        ("red_flags.immunosuppression",),
        "GEN-01",
        history_counts=True,
        literals=(
            "immunosuppression",
            "immunosuppressed",
            "immunocompromised",
            "immunosuppressant",
            "immunosuppressants",
            "immunosuppressive therapy",
            "immunosuppressive medications",
            "hiv",
            "transplant recipient",
            "tacrolimus",
            "mycophenolate",
            "cyclosporine",
            "azathioprine",
        ),
        patterns=((_in("kidney", "renal", "liver", "heart", "lung", "organ"), _in("transplant")),),
    ),
    Concept(
        "dialysis_or_diabetes",
        RED_FLAG,
        "dialysis or diabetes",
        ("red_flags.dialysis_or_diabetes", "diabetes"),
        "GEN-01",
        history_counts=True,
        literals=(
            "dialysis",
            "hemodialysis",
            "esrd",
            "diabetes",
            "diabetes mellitus",
            "diabetic",
            "t2dm",
            "dm2",
            "iddm",
            "niddm",
        ),
    ),
    # --- Malignancy (GEN-02) -------------------------------------------------------------------
    Concept(
        "cancer_history",
        RED_FLAG,
        "cancer history",
        ("red_flags.cancer_history", "oncology"),
        "GEN-02",
        history_counts=True,
        literals=(
            "cancer",
            "carcinoma",
            "malignancy",
            "metastatic disease",
            "metastases",
            "metastasis",
            "lymphoma",
            "myeloma",
            "multiple myeloma",
            "leukemia",
            "melanoma",
            "sarcoma",
        ),
    ),
    Concept(
        "unexplained_weight_loss",
        RED_FLAG,
        "unexplained weight loss",
        ("red_flags.unexplained_weight_loss",),
        "GEN-02",
        literals=(
            "weight loss",
            "unexplained weight loss",
            "unintentional weight loss",
            "unintended weight loss",
            "losing weight",
            "cachexia",
        ),
        patterns=(
            (
                _in("lost"),
                {"LIKE_NUM": True},
                _in("lb", "lbs", "pounds", "kg", "kilograms", "kilos"),
            ),
        ),
    ),
    Concept(
        "night_pain",
        RED_FLAG,
        "night pain",
        ("red_flags.night_pain",),
        "GEN-02",
        literals=("night pain", "nocturnal pain", "rest pain", "night-time pain", "nighttime pain"),
        patterns=(
            (_in("pain"), _in("at", "during"), _opt("the"), _in("night", "rest")),
            (_in("pain"), _opt("is", "gets", "becomes"), _in("worse"), _in("at"), _in("night")),
            (
                _in("wakes", "awakens", "waking", "awakening", "wakening", "woken"),
                _opt("him", "her", "them", "patient"),
                _opt("up"),
                _opt("at", "from"),
                _in("night", "sleep"),
            ),
        ),
    ),
    # --- Fracture flags: trauma, osteoporosis or chronic steroids -------------------------------
    Concept(
        "significant_trauma",
        RED_FLAG,
        "significant trauma",
        ("red_flags.significant_trauma",),
        "",
        graded_by_denial=("significant", "major", "high-energy", "high energy", "severe"),
        # "trauma" alone, not "significant trauma": medspaCy's "no significant" negation would
        # overlap the longer target and leave "No significant trauma" affirmed.
        literals=(
            "trauma",
            "motor vehicle accident",
            "motor vehicle collision",
            "mva",
            "mvc",
            "car accident",
        ),
        patterns=((_in(*_FALL_WORDS), _in("from", "off", "down")),),
    ),
    Concept(
        "osteoporosis_or_chronic_steroids",
        RED_FLAG,
        "osteoporosis or chronic steroid use",
        ("red_flags.osteoporosis_or_chronic_steroids",),
        "",
        history_counts=True,
        literals=("osteoporosis", "osteoporotic", "fragility fracture", "steroid-dependent"),
        patterns=(
            (
                _in("chronic", "long-term", "longterm", "prolonged", "daily"),
                _in(*_STEROIDS),
                _opt("use", "therapy"),
            ),
            (_in("long"), _opt("-"), _in("term"), _in(*_STEROIDS), _opt("use", "therapy")),
            (_in(*_STEROIDS), _in("daily", "chronically")),
        ),
    ),
    # --- Progressive motor deficit (GEN-04) -----------------------------------------------------
    Concept(
        "progressive_weakness",
        RED_FLAG,
        "progressive weakness",
        ("neurological.progressive_motor_deficit",),
        "GEN-04",
        literals=("progressive motor deficit", "progressive neurologic deficit", "foot drop"),
        patterns=(
            (
                _in(*_PROGRESSIVE),
                {"IS_ALPHA": True, "OP": "?", "LOWER": {"NOT_IN": ["no", "not", "without"]}},
                {"IS_ALPHA": True, "OP": "?", "LOWER": {"NOT_IN": ["no", "not", "without"]}},
                {"IS_ALPHA": True, "OP": "?", "LOWER": {"NOT_IN": ["no", "not", "without"]}},
                _in("weakness", "paresis", "drop"),
            ),
            (
                _in("weakness", "strength"),
                _opt("that", "which"),
                _in("is", "has", "have"),
                _opt("been"),
                _in("worsening", "worsened", "progressed", "progressing", "declined", "declining"),
            ),
        ),
    ),
    # --- Myelopathy (GEN-05) --------------------------------------------------------------------
    Concept(
        "myelopathy",
        RED_FLAG,
        "myelopathy signs",
        ("neurological.myelopathy",),
        "GEN-05",
        literals=(
            "myelopathy",
            "myelopathic",
            "hyperreflexia",
            "hyperreflexic",
            "clonus",
            "sustained clonus",
            "gait instability",
            "unsteady gait",
            "ataxic gait",
            "broad-based gait",
            "wide-based gait",
            "gait ataxia",
            "hand clumsiness",
            "clumsy hands",
            "clumsiness of the hands",
            "loss of dexterity",
            "difficulty buttoning",
            "upgoing toes",
            "lhermitte sign",
        ),
        patterns=(
            (
                {"LOWER": {"REGEX": r"^hoff?mann?('s)?$"}},
                _opt("'s"),
                _opt("sign", "signs", "reflex"),
            ),
            ({"LOWER": {"REGEX": r"^babinski('s)?$"}}, _opt("'s"), _opt("sign", "signs")),
            (_in("brisk", "pathologically"), _opt("brisk"), _in("reflexes")),
            ({"LOWER": {"REGEX": r"^[34]\+?$"}}, _opt("+"), _in("reflexes", "reflex")),
        ),
    ),
    # --- Conservative care (REQUEST.md modalities) ----------------------------------------------
    Concept(
        "physical_therapy",
        CONSERVATIVE_CARE,
        "physical therapy",
        literals=(
            "physical therapy",
            "physiotherapy",
            "physical therapist",
            "formal therapy",
            "physio",
        ),
        # "PT" only in capitals: "pt" and "Pt" mean the patient.
        patterns=(({"TEXT": "PT"},),),
    ),
    Concept(
        "home_exercise",
        CONSERVATIVE_CARE,
        "home exercise",
        literals=("home exercise program", "home exercise", "home exercises"),
        patterns=(({"TEXT": "HEP"},),),
    ),
    Concept(
        "chiropractic",
        CONSERVATIVE_CARE,
        "chiropractic care",
        literals=("chiropractic", "chiropractor", "spinal manipulation"),
    ),
    Concept("acupuncture", CONSERVATIVE_CARE, "acupuncture", literals=("acupuncture",)),
    Concept("massage", CONSERVATIVE_CARE, "massage", literals=("massage", "massage therapy")),
    Concept(
        "nsaid",
        CONSERVATIVE_CARE,
        "NSAID",
        literals=(
            "nsaid",
            "nsaids",
            "anti-inflammatory",
            "anti-inflammatories",
            "nonsteroidal anti-inflammatory",
            "ibuprofen",
            "advil",
            "motrin",
            "naproxen",
            "aleve",
            "naprosyn",
            "meloxicam",
            "mobic",
            "diclofenac",
            "voltaren",
            "celecoxib",
            "celebrex",
            "ketorolac",
            "toradol",
            "etodolac",
            "nabumetone",
            "indomethacin",
        ),
    ),
    Concept(
        "acetaminophen",
        CONSERVATIVE_CARE,
        "acetaminophen",
        literals=("acetaminophen", "tylenol", "paracetamol", "apap"),
    ),
    Concept(
        "muscle_relaxant",
        CONSERVATIVE_CARE,
        "muscle relaxant",
        literals=(
            "muscle relaxant",
            "muscle relaxants",
            "cyclobenzaprine",
            "flexeril",
            "methocarbamol",
            "robaxin",
            "tizanidine",
            "zanaflex",
            "baclofen",
            "metaxalone",
            "skelaxin",
            "carisoprodol",
        ),
    ),
    Concept(
        "neuropathic_agent",
        CONSERVATIVE_CARE,
        "neuropathic agent",
        literals=(
            "gabapentin",
            "neurontin",
            "pregabalin",
            "lyrica",
            "gabapentinoid",
            "gabapentinoids",
            "duloxetine",
            "cymbalta",
            "amitriptyline",
            "nortriptyline",
        ),
    ),
    Concept(
        "oral_steroid",
        CONSERVATIVE_CARE,
        "oral steroid",
        literals=(
            "prednisone",
            "prednisolone",
            "methylprednisolone",
            "medrol",
            "medrol dosepak",
            "medrol dose pack",
            "steroid taper",
            "steroid dose pack",
            "oral steroids",
            "oral steroid",
        ),
    ),
    Concept(
        "opioid",
        CONSERVATIVE_CARE,
        "opioid",
        literals=(
            "opioid",
            "opioids",
            "opiate",
            "opiates",
            "narcotic",
            "narcotics",
            "tramadol",
            "ultram",
            "oxycodone",
            "hydrocodone",
            "norco",
            "vicodin",
            "percocet",
            "morphine",
            "hydromorphone",
            "dilaudid",
            "tapentadol",
            "codeine",
            "fentanyl",
            "buprenorphine",
        ),
    ),
    # --- Prior procedures -----------------------------------------------------------------------
    Concept(
        "epidural_steroid_injection",
        PRIOR_PROCEDURE,
        "epidural steroid injection",
        literals=(
            "epidural steroid injection",
            "epidural steroid injections",
            "transforaminal epidural steroid injection",
            "interlaminar epidural steroid injection",
            "epidural injection",
            "epidural injections",
            "caudal epidural",
            "transforaminal injection",
            "selective nerve root block",
            "esi",
            "tfesi",
            "ilesi",
        ),
    ),
    Concept(
        "medial_branch_block",
        PRIOR_PROCEDURE,
        "medial branch block",
        literals=(
            "medial branch block",
            "medial branch blocks",
            "diagnostic medial branch block",
            "diagnostic medial branch blocks",
            "mbb",
            "mbbs",
        ),
    ),
    Concept(
        "facet_injection",
        PRIOR_PROCEDURE,
        "facet injection",
        literals=(
            "facet injection",
            "facet injections",
            "facet joint injection",
            "facet joint injections",
            "facet block",
            "facet blocks",
            "intra-articular facet injection",
        ),
    ),
    Concept(
        "radiofrequency_ablation",
        PRIOR_PROCEDURE,
        "radiofrequency ablation",
        literals=(
            "radiofrequency ablation",
            "radiofrequency neurotomy",
            "radiofrequency denervation",
            "rf ablation",
            "rfa",
            "rhizotomy",
        ),
        patterns=(
            (_in("medial"), _in("branch"), _in("radiofrequency"), _in("neurotomy", "ablation")),
        ),
    ),
    Concept(
        "vertebral_augmentation",
        PRIOR_PROCEDURE,
        "vertebral augmentation",
        literals=("kyphoplasty", "vertebroplasty", "vertebral augmentation"),
    ),
    Concept(
        "spinal_fusion",
        PRIOR_PROCEDURE,
        "spinal fusion",
        literals=("spinal fusion", "fusion", "acdf", "tlif", "plif", "alif", "arthrodesis"),
    ),
    # --- Longer phrases that contain a concept but are not it ------------------------------------
    Concept(
        "pseudo",
        PSEUDO,
        "",
        literals=(
            "cancer screening",
            "colon cancer screening",
            "cancer screenings",
            "hay fever",
            "fever blister",
            "intentional weight loss",
            "weight loss program",
            "weight loss surgery",
            "weight loss counseling",
            "weight loss goals",
            "fall risk",
            "fall precautions",
            *_LOW_FALLS,
            "stress incontinence",
            "diabetes screening",
            "fusion level",
        ),
        patterns=(
            # "fell from standing height", "a fall from a standing position", "fell out of bed",
            # "fell from her chair", "fell at ground level": low-energy falls, not trauma.
            (
                _in(*_FALL_WORDS),
                _in("from", "off", "out"),
                _opt("of"),
                _opt("a", "the", "her", "his", "their"),
                _in(*_STANDING),
                _opt("height", "position", "level"),
            ),
            (_in(*_FALL_WORDS), _in("at"), _in("ground"), _opt("-"), _in("level")),
            (_in("ground"), _in("-"), _in("level"), _in(*_FALL_WORDS)),
            (_in("low"), _in("-"), _in("energy"), _in(*_FALL_WORDS)),
        ),
    ),
)

CONCEPT_BY_NAME: dict[str, Concept] = {c.name: c for c in CONCEPTS if c.category != PSEUDO}


def target_rules() -> list:
    """medspaCy TargetRules for every concept (medspaCy is imported only where notes are read)."""
    from medspacy.target_matcher import TargetRule

    rules = []
    for concept in CONCEPTS:
        for literal in concept.literals:
            rules.append(TargetRule(literal, concept.name))
        for pattern in concept.patterns:
            rules.append(TargetRule(concept.name, concept.name, pattern=[dict(p) for p in pattern]))
    return rules


_NOT_CARE = [c.name for c in CONCEPTS if c.category == RED_FLAG]
_PLAN_WORDS = (
    "plan",
    "plans",
    "planned",
    "planning",
    "recommend",
    "recommended",
    "recommends",
    "consider",
    "considering",
    "schedule",
    "scheduled",
    "candidate",
    "referral",
    "refer",
    "request",
    "requesting",
    "proceed",
    "will",
    "would",
    "start",
    "begin",
    "order",
    "ordered",
)


def context_rules() -> list:
    """Additions to medspaCy's default ConText rules for spine notes."""
    from medspacy.context import ConTextRule

    return [
        # A warning to return "if you develop fever": the default "if"/"return" catch most; these
        # are the other ways a note instructs the patient about a possible future symptom.
        ConTextRule(
            "precautions", "HYPOTHETICAL", pattern=[_in("precautions")], direction="FORWARD"
        ),
        ConTextRule(
            "seek care for",
            "HYPOTHETICAL",
            pattern=[_in("seek", "call", "report"), _opt("immediate", "urgent", "emergency")],
            direction="FORWARD",
            allowed_types=set(_NOT_CARE),
        ),
        ConTextRule("should develop", "HYPOTHETICAL", pattern=[_in("should")], direction="FORWARD"),
        ConTextRule(
            "in case of",
            "HYPOTHETICAL",
            pattern=[_in("in"), _in("case"), _in("of")],
            direction="FORWARD",
        ),
        ConTextRule(
            "warning signs",
            "HYPOTHETICAL",
            pattern=[
                _in("warning", "red"),
                _in("signs", "flags", "flag"),
                _opt("such"),
                _opt("as"),
            ],
            direction="FORWARD",
        ),
        # A plan or a recommendation is not care already given ("Plan: L5-S1 TFESI").
        ConTextRule(
            "plan",
            "HYPOTHETICAL",
            pattern=[_in(*_PLAN_WORDS)],
            direction="FORWARD",
            excluded_types=set(_NOT_CARE),
        ),
        # medspaCy's default "risk of" pattern asks one token to be two words and never matches.
        ConTextRule(
            "risk of",
            "HYPOTHETICAL",
            pattern=[_in("risk", "risks"), _in("of", "for", "including")],
            direction="FORWARD",
        ),
        ConTextRule(
            "complications such as",
            "HYPOTHETICAL",
            pattern=[
                _in("complications", "complication", "side"),
                _opt("effects"),
                _in("of", "such", "including", "include"),
                _opt("as"),
            ],
            direction="FORWARD",
        ),
        # Family and others: the default family rule covers relatives by name.
        ConTextRule(
            "family history",
            "FAMILY",
            pattern=[_in("family"), _in("history", "hx")],
            direction="FORWARD",
        ),
        ConTextRule("fhx", "FAMILY", pattern=[_in("fhx", "fh")], direction="FORWARD"),
        ConTextRule(
            "roommate",
            "FAMILY",
            pattern=[_in("roommate", "coworker", "co-worker", "friend", "neighbor", "caregiver")],
            direction="FORWARD",
        ),
        # "HIV negative", "cultures negative", "negative Hoffmann": close to the concept only.
        ConTextRule(
            "negative",
            "NEGATED_EXISTENCE",
            pattern=[_in("negative", "neg")],
            direction="BIDIRECTIONAL",
            max_scope=2,
        ),
        ConTextRule(
            "absent",
            "NEGATED_EXISTENCE",
            pattern=[_in("absent")],
            direction="BACKWARD",
            max_scope=3,
        ),
        ConTextRule(
            "is not present",
            "NEGATED_EXISTENCE",
            pattern=[_in("not"), _in("present", "seen", "elicited")],
            direction="BACKWARD",
            max_scope=4,
        ),
        ConTextRule(
            "none", "NEGATED_EXISTENCE", pattern=[_in("none")], direction="BACKWARD", max_scope=4
        ),
        ConTextRule(
            "never", "NEGATED_EXISTENCE", pattern=[_in("never")], direction="FORWARD", max_scope=5
        ),
        ConTextRule(
            "has not tried",
            "NEGATED_EXISTENCE",
            pattern=[
                _in("has", "have", "did", "had"),
                _in("not", "n't"),
                _opt("yet"),
                _in("tried", "done", "had", "attended", "received", "completed", "try", "do"),
            ],
            direction="FORWARD",
        ),
        ConTextRule(
            "resolved",
            "NEGATED_EXISTENCE",
            pattern=[_in("resolved")],
            direction="BACKWARD",
            max_scope=4,
        ),
        # Past events: the default "history"/"h/o" plus the ways a note dates something.
        ConTextRule(
            "status post",
            "HISTORICAL",
            pattern=[_in("s/p", "status")],
            direction="FORWARD",
            max_scope=6,
        ),
        ConTextRule(
            "remote",
            "HISTORICAL",
            pattern=[_in("remote", "prior", "previous", "previously", "former")],
            direction="FORWARD",
            max_scope=4,
            allowed_types=set(_NOT_CARE),
        ),
        ConTextRule(
            "years ago",
            "HISTORICAL",
            pattern=[{"LIKE_NUM": True}, _in("years", "yrs", "decades"), _in("ago")],
            direction="BIDIRECTIONAL",
            allowed_types=set(_NOT_CARE),
        ),
        # "since" ends a scope (a default rule); "since childhood" dates what came before it.
        ConTextRule(
            "since childhood",
            "HISTORICAL",
            pattern=[
                _in("since"),
                _in("childhood", "childbirth", "birth", "adolescence", "age"),
            ],
            direction="BACKWARD",
            max_scope=6,
        ),
        ConTextRule(
            "since 2010",
            "HISTORICAL",
            pattern=[_in("since"), {"SHAPE": "dddd"}],
            direction="BACKWARD",
            max_scope=6,
        ),
        ConTextRule(
            "ruled out by",
            "NEGATED_EXISTENCE",
            pattern=[_in("ruled", "excluded"), _opt("out"), _in("by", "on", "with", "after")],
            direction="BACKWARD",
        ),
        ConTextRule(
            "in 2009",
            "HISTORICAL",
            pattern=[_in("in"), {"SHAPE": "dddd"}],
            direction="BACKWARD",
            max_scope=6,
        ),
        ConTextRule(
            "may develop",
            "HYPOTHETICAL",
            pattern=[
                _in("may", "might", "could", "would"),
                _in("develop", "get", "have", "experience", "need"),
            ],
            direction="FORWARD",
        ),
        ConTextRule(
            "downgoing",
            "NEGATED_EXISTENCE",
            pattern=[_in("downgoing", "flexor", "mute")],
            direction="BIDIRECTIONAL",
            max_scope=3,
        ),
        ConTextRule(
            "in remission",
            "HISTORICAL",
            pattern=[_in("in"), _in("remission")],
            direction="BACKWARD",
            max_scope=6,
        ),
        ConTextRule(
            "treated in",
            "HISTORICAL",
            pattern=[_in("treated", "diagnosed"), _in("in"), {"SHAPE": "dddd"}],
            direction="BACKWARD",
            max_scope=6,
        ),
        # Statements of what the patient has now end a negation that started the sentence
        # ("No fever; reports new saddle numbness").
        ConTextRule(
            "reports",
            "TERMINATE",
            pattern=[
                _in(
                    "reports",
                    "endorses",
                    "admits",
                    "notes",
                    "describes",
                    "complains",
                    "presents",
                    "now",
                    "has",
                )
            ],
            direction="TERMINATE",
        ),
        ConTextRule("semicolon", "TERMINATE", pattern=[{"TEXT": ";"}], direction="TERMINATE"),
        # Outcome phrases after a treatment are not negations of the treatment:
        # "no relief with NSAIDs", "without improvement after PT".
        ConTextRule(
            "no relief",
            "PSEUDO",
            pattern=[
                _in("no", "without", "not", "minimal", "little"),
                _opt("significant", "lasting", "sustained", "meaningful", "much"),
                _in(
                    "relief",
                    "improvement",
                    "benefit",
                    "response",
                    "help",
                    "helped",
                    "better",
                    "change",
                ),
            ],
            direction="PSEUDO",
        ),
        ConTextRule(
            "no longer",
            "PSEUDO",
            pattern=[_in("no"), _in("longer")],
            direction="PSEUDO",
        ),
    ]
