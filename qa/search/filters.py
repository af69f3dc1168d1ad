"""What a question may read: articles published within a range of days, from some sources.

The filter is applied inside retrieval (``store.PassageIndex.allowed`` makes a mask over passages that
both stores search within), so a filtered question reads the best passages inside the range rather than
what survives of an unfiltered top k.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from qa.corpus.documents import Document
from qa.corpus.hygiene import optional_text


class BadFilter(ValueError):
    """A filter that cannot be applied; the message says which part and why."""


def day(raw: object, key: str) -> str | None:
    """A filter bound as ``YYYY-MM-DD`` (None when absent or blank)."""
    text = optional_text(raw, lambda kind: BadFilter(f"{key} must be a date as text (YYYY-MM-DD), not {kind}"))
    if text is None:
        return None
    if len(text) == 10:  # fromisoformat alone would also take 20230710
        try:
            return date.fromisoformat(text).isoformat()
        except ValueError:
            pass
    raise BadFilter(f"{key} is not a date: {text[:40]!r} (use an ISO 8601 date, YYYY-MM-DD)")


@dataclass(frozen=True)
class Filter:
    """``since`` and ``until`` are inclusive days; ``sources`` matches any source of a document, ignoring
    case. A document with no publication date is outside any date range."""

    since: str | None = None
    until: str | None = None
    sources: frozenset[str] = field(default_factory=frozenset)  # case-folded

    @classmethod
    def of(cls, since: object = None, until: object = None, sources: object = None) -> "Filter":
        """A filter from request values, checked (``BadFilter`` names what is wrong)."""
        # since after until is an empty range, not an error: nothing was published in it, so nothing is found
        # (every value the API's schema admits is a request it answers)
        lo, hi = day(since, "since"), day(until, "until")
        if sources is None:
            names: list = []
        elif isinstance(sources, str):
            names = [sources]
        elif isinstance(sources, (list, tuple)) and all(isinstance(s, str) for s in sources):
            names = list(sources)
        else:
            raise BadFilter("source must be a source name or a list of them")
        return cls(lo, hi, frozenset(n.strip().casefold() for n in names if n.strip()))

    def __bool__(self) -> bool:
        return bool(self.since or self.until or self.sources)

    def admits(self, doc: Document) -> bool:
        if self.since or self.until:
            days = [o.published[:10] for o in doc.origins if o.published]
            if not any((not self.since or d >= self.since) and (not self.until or d <= self.until) for d in days):
                return False
        if self.sources:
            return any(o.source and o.source.casefold() in self.sources for o in doc.origins)
        return True
