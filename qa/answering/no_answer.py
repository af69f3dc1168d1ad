"""The "not found in the articles" decision: what is known about a proposed answer, and the policy.

A reader proposes spans even when the passages do not hold the answer. Whether to trust the best one
is decided from what the pipeline knows about it (its *features*):

1. reader margin: span score minus the passage's no-answer score (logits);
2. dense cosine of the question and the passage;
3. lexical share: the passage's lexical score (BM25 of passage and best sentence) over the best among those read;
4. answer-type mismatch: the question asks for a number or a date and the span holds none;
5. question support: the share of the question's content words that occur around the span (the
   span with ``SUPPORT_REACH`` characters either side of it);
6. dense gap: the passage's dense cosine minus the best among the passages read (0 for the closest),
   as lexical share is for BM25: how far the span's passage is behind the question's best;
7. answer verifier: the logit of a cross-encoder that reads the question beside the span marked in its
   surroundings (``verifier.py``), trained on the reader's own right and wrong proposals, SQuAD 2.0's
   adversarial unanswerable questions among them.

The policy's probability also ranks the answers, so no feature may favour a span for its form: a
length feature, tried, made it cut names short ("Vo Van" for "Vo Van Hung"). Question support
mostly looks at the text around the span, so a longer or shorter span of the same place scores
nearly alike. An answer whose surroundings do not repeat what the question asks about is the usual
mark of a passage on the right topic that lacks the answer: on held-out splits it caught more of the
questions whose paragraph was left out of the index than coverage of the whole passage did.

``NoAnswerPolicy`` is a logistic model over these, fitted through the real pipeline on held-out
questions by ``qa reader calibrate`` (``qa/training/calibrate.py``) and stored in the reader's
``qa_config.json``. A policy with fewer weights than features ignores the later features, so a
policy fitted on the first three still loads.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

FEATURES = ("reader margin", "dense cosine", "lexical share", "answer type mismatch", "question support",
            "dense gap", "answer verifier")
VERIFIER = FEATURES.index("answer verifier")  # the features before it need no verifier
SUPPORT_REACH = 150  # characters either side of the span that count as its surroundings

_NUMBER_QUESTION = re.compile(
    r"^\W*(how (many|much|long|old|far|big|large|tall|high|deep|wide)\b"
    r"|(what|which) (percentage|percent|proportion|number|amount|share|figure)\b"
    r"|(what|which)\b(\s+\w+){0,4}?\s+(budget|population|cost|price|salary|revenue|area|distance|length|height"
    r"|size|total|death toll)\b)",
    re.IGNORECASE,
)
_DATE_QUESTION = re.compile(
    r"^\W*(when\b|((in|on|during|by|since|until) )?(what|which) (year|date|day|month|century|decade|time|season)s?\b)",
    re.IGNORECASE,
)
_NUMBER_WORDS = frozenset(
    "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen "
    "eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred hundreds thousand thousands "
    "million millions billion billions trillion dozen dozens half quarter single double triple twice once several"
    .split()
)
# a date answer may also be a number ("1990", "two years")
_DATE_WORDS = _NUMBER_WORDS | frozenset(
    "january february march april may june july august september october november december jan feb mar apr jun "
    "jul aug sep sept oct nov dec monday tuesday wednesday thursday friday saturday sunday spring summer autumn "
    "fall winter century centuries decade decades year years month months week weeks day days today yesterday "
    "tomorrow morning afternoon evening night noon midnight ago era age period dynasty reign after before during "
    "until since war"
    .split()
)
_WORD = re.compile(r"\w+", re.UNICODE)
_STOP = set(
    "a an the of in on at to for from by with and or but is are was were be been being do does did has have had "
    "what which who whom whose when where why how that this these those it its as into about than then there "
    "their they he she his her him i we you your our not no many much".split()
)


def expected_type(question: str) -> str | None:
    """``"number"`` or ``"date"`` when the question's wording asks for one, else None."""
    if _NUMBER_QUESTION.search(question):
        return "number"
    if _DATE_QUESTION.search(question):
        return "date"
    return None


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def type_mismatch(question: str, answer: str) -> float:
    """1.0 when the question asks for a number (or a date) and the answer holds no digit or such word."""
    kind = expected_type(question)
    if kind is None or any(ch.isdigit() for ch in answer):
        return 0.0
    vocab = _NUMBER_WORDS if kind == "number" else _DATE_WORDS
    return 0.0 if any(w in vocab for w in _words(answer)) else 1.0


def question_coverage(question: str, passage: str) -> float:
    """Share of the question's content words (not stop words) found in the passage."""
    q = {w for w in _words(question) if w not in _STOP and len(w) > 1}
    if not q:
        return 1.0
    p = set(_words(passage))
    return sum(w in p for w in q) / len(q)


def question_support(question: str, passage: str, start: int, end: int, reach: int = SUPPORT_REACH) -> float:
    """Share of the question's content words found in ``passage[start:end]`` or within ``reach``
    characters before or after it."""
    return question_coverage(question, passage[max(0, start - reach) : end + reach])


def features(question: str, passage: str, start: int, end: int, margin: float, dense: float,
             lexical_share: float, dense_gap: float, verified: float | None = None) -> tuple[float, ...]:
    """The policy's inputs for the span ``passage[start:end]``, in the order of ``FEATURES``; all
    but the last when there is no verifier's logit (``verified``)."""
    first = (margin, dense, lexical_share, type_mismatch(question, passage[start:end]),
             question_support(question, passage, start, end), dense_gap)
    return first if verified is None else first + (verified,)


# Features of "the reader proposed nothing at all": certainly not an answer.
NOTHING = (-50.0, 0.0, 0.0, 1.0, 0.0, -1.0, -50.0)


def feature_names(with_verifier: bool) -> tuple[str, ...]:
    return FEATURES if with_verifier else FEATURES[:VERIFIER]


@dataclass(frozen=True)
class NoAnswerPolicy:
    """Answer or say "not found": probability = sigmoid(w . features + bias), kept when >= ``cutoff``.

    With only a reader threshold t known it is sigmoid(margin - t), i.e. weights (1,) and bias -t.
    """

    weights: tuple[float, ...] = (1.0,)
    bias: float = 0.0
    cutoff: float = 0.5

    @classmethod
    def margin_only(cls, threshold: float) -> "NoAnswerPolicy":
        return cls((1.0,), -threshold, 0.5)

    @classmethod
    def from_config(cls, cfg: dict) -> "NoAnswerPolicy":
        """The policy stored by ``to_config``. A policy fitted on features that this code computes
        differently (its feature names differ) is refused: its weights would be applied to the wrong
        inputs and silently decide "not found" on other grounds than it was fitted on."""
        names = cfg.get("features")
        if names is not None and list(names) != list(FEATURES[: len(cfg["weights"])]):
            raise ValueError(f"the no-answer policy was fitted on the features {list(names)}, but this version "
                             f"computes {list(FEATURES)}: refit it with `qa reader calibrate --write`")
        return cls(tuple(float(w) for w in cfg["weights"]), float(cfg["bias"]), float(cfg.get("cutoff", 0.5)))

    @property
    def uses_verifier(self) -> bool:
        return len(self.weights) > VERIFIER

    def probability(self, feats: tuple[float, ...]) -> float:
        z = self.bias + sum(w * x for w, x in zip(self.weights, feats))
        if z < -50:
            return 0.0
        return 1.0 / (1.0 + math.exp(-z))

    def to_config(self) -> dict:
        return {"weights": list(self.weights), "bias": self.bias, "cutoff": self.cutoff,
                "features": list(FEATURES[: len(self.weights)])}
