"""One model of the spine: regions, vertebrae, segments, spans, overlap and adjacency.

Pure (no database, no clock). Validation, facts and the history checks all read levels through
this module, so 'L4-L5' and 'L5' overlap (or not) in every place alike.

- A vertebra: C1-C7, T1-T12, L1-L5, S1-S5, and L6, a transitional vertebra some people have
  (lumbarised S1). L6 is a known variant: it sits between L5 and S1, and only a span that names
  it walks through it ('L5-S1' is the usual lowest lumbar segment, 'L5-L6' and 'L6-S1' the same
  place in a spine with six lumbar vertebrae, so each overlaps 'L5-S1').
- A level is written as a vertebra ('L1') or a span between two ('L4-L5', a segment; 'L4-S1',
  two segments), upper vertebra first.
- Two levels overlap when they share a segment, or when one is a vertebra the other contains.
  Two segments meeting at one vertebra ('L4-L5' and 'L5-S1') do not overlap: they are adjacent.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

REGIONS = ("cervical", "thoracic", "lumbar", "sacral")
# Frequency limits count lumbar and sacral together (the LCDs' "lumbar or sacral").
REGION_GROUP = {
    "cervical": "cervical",
    "thoracic": "thoracic",
    "lumbar": "lumbosacral",
    "sacral": "lumbosacral",
}
_LETTER_REGION = {"C": "cervical", "T": "thoracic", "L": "lumbar", "S": "sacral"}
VARIANTS = frozenset({"L6"})

_STANDARD = (
    [f"C{i}" for i in range(1, 8)]
    + [f"T{i}" for i in range(1, 13)]
    + [f"L{i}" for i in range(1, 6)]
    + [f"S{i}" for i in range(1, 6)]
)
# Positions on one line, two steps per vertebra so L6 fits between L5 and S1.
_POSITION = {name: 2 * i for i, name in enumerate(_STANDARD)}
_POSITION["L6"] = _POSITION["L5"] + 1
_BY_POSITION = {p: n for n, p in _POSITION.items()}
_VERTEBRA = re.compile(r"^(C[1-7]|T(?:1[0-2]|[1-9])|L[1-6]|S[1-5])$")


class LevelError(ValueError):
    """A text that is not a level of this model; the message says why in plain words."""


@dataclass(frozen=True, order=True)
class Span:
    """A vertebra (upper == lower) or a span of segments from upper to lower."""

    upper: str
    lower: str

    @property
    def low(self) -> int:
        return _POSITION[self.upper]

    @property
    def high(self) -> int:
        return _POSITION[self.lower]

    @property
    def is_vertebra(self) -> bool:
        return self.upper == self.lower

    def vertebrae(self) -> list[str]:
        """The vertebrae from upper to lower; L6 only when the span names it."""
        with_l6 = "L6" in (self.upper, self.lower)
        return [
            _BY_POSITION[p]
            for p in range(self.low, self.high + 1)
            if p in _BY_POSITION and (with_l6 or _BY_POSITION[p] != "L6")
        ]

    def segments(self) -> list[Span]:
        """The motion segments in the span ('L4-S1' -> L4-L5, L5-S1); none for a vertebra."""
        names = self.vertebrae()
        return [Span(a, b) for a, b in zip(names, names[1:], strict=False)]

    def regions(self) -> set[str]:
        return {_LETTER_REGION[v[0]] for v in (self.upper, self.lower)} | {
            _LETTER_REGION[v[0]] for v in self.vertebrae()
        }

    def __str__(self) -> str:
        return self.upper if self.is_vertebra else f"{self.upper}-{self.lower}"


def parse(text: object) -> Span:
    """'L4-L5', 'L5-S1', 'L5', 'C5-C6', 'L5-L6' -> Span; anything else raises LevelError."""
    raw = str(text or "").strip().upper()
    parts = raw.split("-")
    if not raw or len(parts) > 2 or any(not _VERTEBRA.match(p) for p in parts):
        raise LevelError(
            f"'{text}' is not a spinal level: use a vertebra like 'L1' or a segment like 'L4-L5'."
        )
    upper, lower = parts[0], parts[-1]
    if len(parts) == 2 and _POSITION[lower] <= _POSITION[upper]:
        if upper == lower:
            raise LevelError(f"'{text}' names one vertebra twice: write '{upper}'.")
        raise LevelError(f"'{text}': name the upper vertebra first (e.g. 'L4-L5').")
    return Span(upper, lower)


def try_parse(text: object) -> Span | None:
    try:
        return parse(text)
    except LevelError:
        return None


def spans(levels: Iterable[object] | None) -> list[Span]:
    """The parseable levels of a list (stored data was validated; anything else is skipped)."""
    return [s for s in (try_parse(x) for x in levels or ()) if s is not None]


def span_overlap(a: Span, b: Span) -> bool:
    shared_low, shared_high = max(a.low, b.low), min(a.high, b.high)
    if shared_low > shared_high:
        return False
    if a.is_vertebra or b.is_vertebra:
        return True
    return shared_high > shared_low  # a shared stretch, not just a shared vertebra


def overlap(levels_a: Iterable[object] | None, levels_b: Iterable[object] | None) -> bool | None:
    """Whether two level lists share a segment (or a vertebra, when one side is a vertebra).

    None when either list has no level to compare (unknown, never "no").
    """
    a, b = spans(levels_a), spans(levels_b)
    if not a or not b:
        return None
    return any(span_overlap(x, y) for x in a for y in b)


def span_adjacent(a: Span, b: Span) -> bool:
    """Next to each other without overlapping: two levels meeting at a vertebra ('L4-L5' and
    'L5-S1'), or a vertebra next to the end of the other level ('L3' and 'L4-L5')."""
    if span_overlap(a, b):
        return False
    first, second = sorted([a, b], key=lambda s: s.low)
    if first.high == second.low:
        return True
    if not (first.is_vertebra or second.is_vertebra):
        return False
    return len(Span(first.lower, second.upper).vertebrae()) == 2


def near(levels_a: Iterable[object] | None, levels_b: Iterable[object] | None) -> bool | None:
    """Overlapping or adjacent (an interlaminar entry one segment from the pathology)."""
    a, b = spans(levels_a), spans(levels_b)
    if not a or not b:
        return None
    return any(span_overlap(x, y) or span_adjacent(x, y) for x in a for y in b)


def region_of_level(level: object) -> set[str]:
    span = try_parse(level)
    return span.regions() if span else set()


def region_group(region: object, levels: Iterable[object] | None = ()) -> str | None:
    """The counting region (cervical, thoracic, lumbosacral) of a stated region, else of the
    first parseable level (its upper vertebra)."""
    if region in REGION_GROUP:
        return REGION_GROUP[region]
    for span in spans(levels):
        return REGION_GROUP[_LETTER_REGION[span.upper[0]]]
    return None


def within(levels: Iterable[object] | None, upper: str, lower: str) -> bool | None:
    """Whether every level lies between two vertebrae, both included (VA-01's T1-L5)."""
    found = spans(levels)
    if not found:
        return None
    low, high = _POSITION[upper], _POSITION[lower]
    return all(low <= s.low and s.high <= high for s in found)


# The regions each CPT code of the covered families treats (its descriptor's region words).
# Add-on codes for "each additional" level of any region are left out: they follow the primary.
_CT = frozenset({"cervical", "thoracic"})
_LS = frozenset({"lumbar", "sacral"})
CPT_REGIONS: dict[str, frozenset[str]] = {
    **dict.fromkeys(["62320", "62321", "64479", "64480"], _CT),
    **dict.fromkeys(["62322", "62323", "64483", "64484"], _LS),
    **dict.fromkeys(["64490", "64491", "64492", "64633", "64634"], _CT),
    **dict.fromkeys(["64493", "64494", "64495", "64635", "64636"], _LS),
    "22510": _CT,
    "22511": _LS,
    "22513": frozenset({"thoracic"}),
    "22514": frozenset({"lumbar"}),
    **dict.fromkeys(["22551", "22552", "22554", "22600"], frozenset({"cervical"})),
    "22610": frozenset({"thoracic"}),
    **dict.fromkeys(["22558", "22612", "22630", "22633"], frozenset({"lumbar", "sacral"})),
}


def cpt_regions(code: object) -> frozenset[str] | None:
    return CPT_REGIONS.get(str(code))
