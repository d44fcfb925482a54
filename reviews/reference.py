"""Reference data: the CPT codes Lamina's policies cover, and code validation.

Descriptions are Lamina's own short wording (CPT descriptors are licensed text).
"""

from dataclasses import dataclass
from functools import lru_cache

import simple_icd_10_cm as icd


@dataclass(frozen=True)
class CptCode:
    code: str
    family: str  # a criteria.models.Family value, or "decompression" for companion lines
    description: str
    add_on: bool = False


_CPT = [
    # Epidural steroid injections
    CptCode(
        "62320",
        "epidural_steroid_injection",
        "Interlaminar epidural injection, cervical or thoracic, without imaging guidance",
    ),
    CptCode(
        "62321",
        "epidural_steroid_injection",
        "Interlaminar epidural injection, cervical or thoracic, with imaging guidance",
    ),
    CptCode(
        "62322",
        "epidural_steroid_injection",
        "Interlaminar or caudal epidural injection, lumbar or sacral, without imaging guidance",
    ),
    CptCode(
        "62323",
        "epidural_steroid_injection",
        "Interlaminar or caudal epidural injection, lumbar or sacral, with imaging guidance",
    ),
    CptCode(
        "64479",
        "epidural_steroid_injection",
        "Transforaminal epidural injection, cervical or thoracic, first level",
    ),
    CptCode(
        "64480",
        "epidural_steroid_injection",
        "Transforaminal epidural injection, cervical or thoracic, each added level",
        True,
    ),
    CptCode(
        "64483",
        "epidural_steroid_injection",
        "Transforaminal epidural injection, lumbar or sacral, first level",
    ),
    CptCode(
        "64484",
        "epidural_steroid_injection",
        "Transforaminal epidural injection, lumbar or sacral, each added level",
        True,
    ),
    # Facet joint injections and medial branch blocks
    CptCode(
        "64490",
        "facet_injection",
        "Facet joint injection or medial branch block, cervical or thoracic, first level",
    ),
    CptCode(
        "64491",
        "facet_injection",
        "Facet joint injection or medial branch block, cervical or thoracic, second level",
        True,
    ),
    CptCode(
        "64492",
        "facet_injection",
        "Facet joint injection or medial branch block, cervical or thoracic, third and further levels",
        True,
    ),
    CptCode(
        "64493",
        "facet_injection",
        "Facet joint injection or medial branch block, lumbar or sacral, first level",
    ),
    CptCode(
        "64494",
        "facet_injection",
        "Facet joint injection or medial branch block, lumbar or sacral, second level",
        True,
    ),
    CptCode(
        "64495",
        "facet_injection",
        "Facet joint injection or medial branch block, lumbar or sacral, third and further levels",
        True,
    ),
    # Radiofrequency ablation of the facet nerves
    CptCode(
        "64633",
        "radiofrequency_ablation",
        "Radiofrequency ablation of facet nerves, cervical or thoracic, one joint",
    ),
    CptCode(
        "64634",
        "radiofrequency_ablation",
        "Radiofrequency ablation of facet nerves, cervical or thoracic, each added joint",
        True,
    ),
    CptCode(
        "64635",
        "radiofrequency_ablation",
        "Radiofrequency ablation of facet nerves, lumbar or sacral, one joint",
    ),
    CptCode(
        "64636",
        "radiofrequency_ablation",
        "Radiofrequency ablation of facet nerves, lumbar or sacral, each added joint",
        True,
    ),
    # Vertebral augmentation
    CptCode(
        "22510", "vertebral_augmentation", "Vertebroplasty, cervicothoracic, one vertebral body"
    ),
    CptCode("22511", "vertebral_augmentation", "Vertebroplasty, lumbosacral, one vertebral body"),
    CptCode("22512", "vertebral_augmentation", "Vertebroplasty, each added vertebral body", True),
    CptCode(
        "22513",
        "vertebral_augmentation",
        "Vertebral augmentation (kyphoplasty), thoracic, one vertebral body",
    ),
    CptCode(
        "22514",
        "vertebral_augmentation",
        "Vertebral augmentation (kyphoplasty), lumbar, one vertebral body",
    ),
    CptCode(
        "22515", "vertebral_augmentation", "Vertebral augmentation, each added vertebral body", True
    ),
    # Spinal fusion and instrumentation
    CptCode(
        "22551",
        "spinal_fusion",
        "Anterior cervical discectomy and interbody fusion, first interspace",
    ),
    CptCode(
        "22552",
        "spinal_fusion",
        "Anterior cervical discectomy and interbody fusion, each added interspace",
        True,
    ),
    CptCode(
        "22554",
        "spinal_fusion",
        "Anterior cervical interbody fusion without discectomy, first interspace",
    ),
    CptCode("22558", "spinal_fusion", "Anterior lumbar interbody fusion, first interspace"),
    CptCode("22585", "spinal_fusion", "Anterior interbody fusion, each added interspace", True),
    CptCode("22600", "spinal_fusion", "Posterior cervical fusion, one segment"),
    CptCode("22610", "spinal_fusion", "Posterior thoracic fusion, one segment"),
    CptCode("22612", "spinal_fusion", "Posterolateral lumbar fusion, one segment"),
    CptCode(
        "22614", "spinal_fusion", "Posterior or posterolateral fusion, each added segment", True
    ),
    CptCode(
        "22630",
        "spinal_fusion",
        "Posterior lumbar interbody fusion with discectomy, one interspace",
    ),
    CptCode(
        "22632", "spinal_fusion", "Posterior lumbar interbody fusion, each added interspace", True
    ),
    CptCode(
        "22633", "spinal_fusion", "Combined posterolateral and interbody lumbar fusion, one segment"
    ),
    CptCode(
        "22634",
        "spinal_fusion",
        "Combined posterolateral and interbody lumbar fusion, each added segment",
        True,
    ),
    CptCode("22840", "spinal_fusion", "Posterior non-segmental instrumentation", True),
    CptCode("22842", "spinal_fusion", "Posterior segmental instrumentation, 3 to 6 segments", True),
    CptCode(
        "22843", "spinal_fusion", "Posterior segmental instrumentation, 7 to 12 segments", True
    ),
    CptCode("22845", "spinal_fusion", "Anterior instrumentation, 2 to 3 segments", True),
    CptCode("22853", "spinal_fusion", "Insertion of an interbody device, each interspace", True),
]

_DECOMPRESSION = {
    **{str(c): "Laminectomy or decompression" for c in range(63001, 63049)},
    "63030": "Laminotomy with disc excision, lumbar, one interspace",
    "63047": "Laminectomy with facetectomy and foraminotomy, lumbar, one segment",
    "63048": "Laminectomy with facetectomy and foraminotomy, each added segment",
    "63056": "Transpedicular decompression, thoracic or lumbar",
    **{str(c): "Excision of intraspinal lesion" for c in range(63265, 63291)},
}
for _code, _text in _DECOMPRESSION.items():
    _CPT.append(CptCode(_code, "decompression", _text, _code in {"63048"}))

CPT_CODES: dict[str, CptCode] = {c.code: c for c in _CPT}

FAMILIES = (
    "epidural_steroid_injection",
    "facet_injection",
    "radiofrequency_ablation",
    "vertebral_augmentation",
    "spinal_fusion",
)


def cpt_lookup(code: str) -> CptCode | None:
    return CPT_CODES.get(code)


def family_for_codes(codes: list[str]) -> tuple[str, str]:
    """The procedure family of a request's CPT lines, and an error message ("" when fine).

    Returns ("", "") when no Lamina policy covers any of the codes: such a request is accepted and
    routed to a human. Decompression codes ride along with a fusion only.
    """
    known = [CPT_CODES[c] for c in codes if c in CPT_CODES]
    if not known:
        return "", ""
    if len(known) != len(codes):
        return (
            "",
            "Covered and uncovered CPT codes cannot share one request; submit them separately.",
        )
    families = {c.family for c in known if c.family != "decompression"}
    if not families:
        return "", "Decompression codes are accepted only as companion lines of a spinal fusion."
    if len(families) > 1:
        return "", "All CPT codes of one request must belong to one procedure family: " + ", ".join(
            sorted(families)
        ) + "."
    family = families.pop()
    if any(c.family == "decompression" for c in known) and family != "spinal_fusion":
        return "", "Decompression codes are accepted only as companion lines of a spinal fusion."
    if all(c.add_on for c in known):
        return "", "Add-on codes need their primary code in the same request."
    return family, ""


@lru_cache(maxsize=4096)
def icd10_is_billable(code: str) -> bool:
    """A billable ICD-10-CM code (a leaf), per simple-icd-10-cm. Categories like M54.5 are not."""
    try:
        return icd.is_valid_item(code) and icd.is_leaf(code)
    except ValueError:
        return False


def icd10_description(code: str) -> str:
    try:
        return icd.get_description(code)
    except ValueError:
        return ""


def npi_is_valid(npi: str) -> bool:
    """NPI check digit: Luhn over the 80840 prefix and the first nine digits (CMS NPI standard)."""
    if len(npi) != 10 or not npi.isdigit():
        return False
    digits = [int(d) for d in "80840" + npi[:9]]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return (10 - total % 10) % 10 == int(npi[9])
