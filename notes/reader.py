"""Reading one note: medspaCy target rules find the concepts, ConText says in what context.

Pure: text in, findings out; no database. The pipeline is built once per process (the worker
reads every note through it) and only from rules shipped with Lamina and its libraries: a blank
English model, medspaCy's tokenizer, spaCy's rule-based sentencizer, medspaCy's target matcher
and ConText with its default rules plus notes.rules. Nothing is downloaded.
"""

import re
import threading
from collections.abc import Iterable
from dataclasses import asdict, dataclass

from notes.rules import (
    CONCEPT_BY_NAME,
    CONSERVATIVE_CARE,
    PRIOR_PROCEDURE,
    context_rules,
    target_rules,
)

_lock = threading.Lock()
_nlp = None


def pipeline():
    """The process's medspaCy pipeline, built on first use."""
    global _nlp
    if _nlp is None:
        with _lock:
            if _nlp is None:
                _nlp = _build()
    return _nlp


def _build():
    import medspacy
    from spacy.language import Language

    if not Language.has_factory("lamina_line_breaks"):
        Language.component("lamina_line_breaks", func=_line_breaks)
    # medspaCy's defaults minus PyRuSH: its sentence rules run in pure Python and took four
    # fifths of the reading time (about 120 ms of a 2,000-character note) for the same result on
    # the annotated notes. spaCy's rule-based sentencizer splits on end punctuation and
    # lamina_line_breaks on line breaks, so a negation never runs on into the next line of a
    # list ("Denies fever" / "Saddle numbness").
    nlp = medspacy.load(
        medspacy_enable=["medspacy_tokenizer", "medspacy_target_matcher", "medspacy_context"]
    )
    nlp.add_pipe("sentencizer", first=True)
    nlp.add_pipe("lamina_line_breaks", after="sentencizer")
    nlp.get_pipe("medspacy_target_matcher").add(target_rules())
    nlp.get_pipe("medspacy_context").add(context_rules())
    return nlp


def _line_breaks(doc):
    """A line break starts a sentence: clinical notes list findings one per line."""
    for token in doc[:-1]:
        if "\n" in token.text or "\n" in token.whitespace_:
            doc[token.i + 1].is_sent_start = True
    return doc


@dataclass
class Finding:
    concept: str
    category: str
    start: int
    end: int
    text: str
    sentence_start: int
    sentence_end: int
    is_negated: bool = False
    is_historical: bool = False
    is_hypothetical: bool = False
    is_family: bool = False
    is_uncertain: bool = False
    visits: int | None = None
    duration_days: int | None = None
    percent: int | None = None

    @property
    def context(self) -> str:
        return finding_context(self)

    def as_dict(self) -> dict:
        return asdict(self)


def finding_context(finding) -> str:
    """The one word that decides how a finding reads: negation first, then who and when."""
    if finding.is_negated:
        return "negated"
    if finding.is_family:
        return "family"
    if finding.is_hypothetical:
        return "hypothetical"
    if finding.is_historical:
        return "historical"
    if finding.is_uncertain:
        return "uncertain"
    return "affirmed"


def counts_as_present(finding) -> bool:
    """Whether a red-flag mention says the patient has it: not denied, not someone else's, not
    a what-if; a past mention only for the concepts whose history matters (cancer, IV drug use,
    immunosuppression, osteoporosis or steroids, dialysis or diabetes). A possible finding
    ("concerning for cauda equina") counts: it is exactly what a reviewer must look at."""
    if finding.is_negated or finding.is_family or finding.is_hypothetical:
        return False
    if finding.is_historical:
        return CONCEPT_BY_NAME[finding.concept].history_counts
    return True


# --- Numbers stated next to a concept ----------------------------------------------------------

_WORD_NUMBERS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "fourteen": 14,
    "sixteen": 16,
    "eighteen": 18,
    "twenty": 20,
    "a couple of": 2,
    "a few": 3,
}
_NUM = r"(\d{1,3}|" + "|".join(sorted(_WORD_NUMBERS, key=len, reverse=True)) + r")"
_VISITS = re.compile(
    rf"(?:\bx\s*)?\b{_NUM}\s*(?:total\s+|formal\s+|PT\s+|therapy\s+|supervised\s+)?"
    r"(?:visits?|sessions?|appointments?|treatments?)\b",
    re.IGNORECASE,
)
# "PT x2", "PT x 6": a bare count after x is a number of visits.
_BARE_TIMES = re.compile(
    r"\bx\s?(\d{1,2})\b(?!\s*(?:/|per\b|weeks?|wks?|months?|mos?|days?|%|percent))",
    re.IGNORECASE,
)
_DURATION = re.compile(
    rf"\b{_NUM}(?:\s*-\s*|\s+)(weeks?|wks?|months?|mos?|days?)\b(?!\s+ago)(?!\s+(?:later|prior)\b)",
    re.IGNORECASE,
)
_PERCENT = re.compile(
    r"\b(\d{1,3})(?:\s*(?:-|to)\s*(\d{1,3}))?\s*(?:%|percent\b|per cent\b)"
    r"(?=[^.;]{0,30}\b(?:relief|improvement|reduction|better|decrease|resolution)\b)",
    re.IGNORECASE,
)
_RELIEF_OF = re.compile(
    r"\b(?:relief|improvement|reduction)\s+(?:of\s+)?(?:about\s+|approximately\s+|~\s*)?"
    r"(\d{1,3})(?:\s*(?:-|to)\s*(\d{1,3}))?\s*(?:%|percent\b|per cent\b)",
    re.IGNORECASE,
)
_DAYS_PER_UNIT = {"w": 7, "m": 30, "d": 1}
# A number this far from a concept, in characters, is about something else. Relief is often
# stated at the end of a long sentence naming the levels and the agents.
_MAX_DISTANCE = {"visits": 60, "duration_days": 60, "percent": 160}


def _number(token: str) -> int:
    token = token.lower()
    return int(token) if token.isdigit() else _WORD_NUMBERS[token]


def _quantities(sentence: str) -> list[tuple[str, int, int, int]]:
    """(kind, value, start, end) of the visit counts, durations and relief percentages."""
    found = []
    for m in _VISITS.finditer(sentence):
        found.append(("visits", _number(m.group(1)), m.start(), m.end()))
    for m in _BARE_TIMES.finditer(sentence):
        if not any(k == "visits" and s <= m.start() < e for k, _, s, e in found):
            found.append(("visits", int(m.group(1)), m.start(), m.end()))
    for m in _DURATION.finditer(sentence):
        days = _number(m.group(1)) * _DAYS_PER_UNIT[m.group(2)[0].lower()]
        found.append(("duration_days", days, m.start(), m.end()))
    percents = {}
    for regex in (_PERCENT, _RELIEF_OF):
        for m in regex.finditer(sentence):
            # A range ("70-80% relief") reads as its lower end: the claim the note supports.
            low = min(int(g) for g in m.groups() if g)
            if low <= 100:
                percents[m.start()] = ("percent", low, m.start(), m.end())
    found.extend(percents.values())
    return found


_TAKES = {
    "visits": CONSERVATIVE_CARE,
    "duration_days": CONSERVATIVE_CARE,
    "percent": PRIOR_PROCEDURE,
}


def _attach_values(findings: list[Finding], text: str) -> None:
    """Give each stated number to the nearest concept of the kind that carries it, within its
    sentence ("8 weeks of physical therapy (12 visits)"; "MBB ... 85 percent relief")."""
    by_sentence: dict[tuple[int, int], list[Finding]] = {}
    for f in findings:
        by_sentence.setdefault((f.sentence_start, f.sentence_end), []).append(f)
    for (s_start, s_end), group in by_sentence.items():
        for kind, value, q_start, q_end in _quantities(text[s_start:s_end]):
            q_start, q_end = q_start + s_start, q_end + s_start
            candidates = [f for f in group if f.category == _TAKES[kind]]
            if not candidates:
                continue

            def distance(f, q_start=q_start, q_end=q_end):
                if f.end <= q_start:
                    return q_start - f.end
                if q_end <= f.start:
                    return f.start - q_end
                return 0

            nearest = min(candidates, key=distance)
            if distance(nearest) > _MAX_DISTANCE[kind]:
                continue
            current = getattr(nearest, kind)
            # Two numbers of one kind for one mention ("2 of 12 visits"): keep the larger, the
            # note's most generous reading.
            if current is None or value > current:
                setattr(nearest, kind, value)


def _findings(doc, offset: int = 0) -> list[Finding]:
    findings = []
    for ent in doc.ents:
        concept = CONCEPT_BY_NAME.get(ent.label_)
        if concept is None:
            continue
        sent = ent.sent
        findings.append(
            Finding(
                concept=concept.name,
                category=concept.category,
                start=offset + ent.start_char,
                end=offset + ent.end_char,
                text=ent.text,
                sentence_start=offset + sent.start_char,
                sentence_end=offset + sent.end_char,
                is_negated=bool(ent._.is_negated),
                is_historical=bool(ent._.is_historical),
                is_hypothetical=bool(ent._.is_hypothetical),
                is_family=bool(ent._.is_family),
                is_uncertain=bool(ent._.is_uncertain),
            )
        )
    return findings


# medspaCy's matcher and ConText cost grows faster than the text (every match is added to
# doc.ents one at a time; every modifier is compared with every target): a 200,000-character note
# read whole takes minutes. Read in pieces cut at line or sentence ends, which ConText's scopes
# never cross anyway.
CHUNK_CHARS = 3000


def _chunks(text: str) -> list[tuple[int, str]]:
    """(offset, piece) covering text, each piece at most about CHUNK_CHARS, cut at a boundary."""
    pieces = []
    start = 0
    while len(text) - start > CHUNK_CHARS:
        window = text[start : start + CHUNK_CHARS]
        cut = max(window.rfind("\n"), window.rfind(". "), window.rfind("; "))
        if cut < CHUNK_CHARS // 2:
            cut = window.rfind(" ")
        end = start + (cut + 1 if cut > 0 else CHUNK_CHARS)
        pieces.append((start, text[start:end]))
        start = end
    pieces.append((start, text[start:]))
    return pieces


def notes_read(texts: Iterable[str]) -> list[list[Finding]]:
    """Every concept each note mentions, with its context and any numbers stated with it."""
    texts = [t or "" for t in texts]
    pieces = [(i, offset, piece) for i, t in enumerate(texts) for offset, piece in _chunks(t)]
    results: list[list[Finding]] = [[] for _ in texts]
    docs = pipeline().pipe(piece for _, _, piece in pieces)
    for (i, offset, _), doc in zip(pieces, docs, strict=True):
        results[i].extend(_findings(doc, offset))
    for text, findings in zip(texts, results, strict=True):
        _attach_values(findings, text)
    return results


def note_read(text: str) -> list[Finding]:
    """notes_read for one note."""
    return notes_read([text])[0]
