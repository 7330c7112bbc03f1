"""What personal data a trust's feed may carry: the trust sees what it may see as an employer.

The rule, applied when an event is ingested (so nothing else is ever stored for feeds):

1. Only the fields of the event's current contract pass (the payload is decoded, upcast and
   dumped again): a field a newer producer added that this code does not know is dropped, never
   passed on blindly (deny by default for the unknown).
2. Free text about a person is dropped from every event: ``reflection``, ``description``,
   ``evidence_url``, ``focus`` (of a mentoring session), ``impact_note``, and every field whose name
   looks like contact or special-category data (``email``, ``phone``, ``address``,
   ``birth`` / ``dob``, ``note``, ``comment``, ``health``, ``medical``, ``disability``,
   ``ethnic``, ``religion``, ``gender``, ``sexual``, ``nationality``).
3. ``reason`` is kept only where it is an organisation's reason (:data:`ORGANISATIONAL_REASONS`:
   a school leaving a trust); a reason about a person (leaving the profession, a declined,
   withdrawn or corrected request, an ended mentorship) is dropped.
4. Some events are not the employer's business at all (:data:`EXCLUDED_EVENT_TYPES`: a teacher's
   rating of a course) and never enter a feed.
5. Names, TRNs, career stage, hours, courses, requests and money of the trust's own staff pass:
   the trust employs them.
6. An entry that reaches a trust only because the event *names* the trust (for example a
   ``FundingSpent`` on the trust's budget for a teacher who has since moved to a school of another
   trust) is not an employer's entry: :func:`redact_identity` strips who it was about
   (:data:`IDENTITY_FIELDS`, and the TRN in the stream id) when it is read.
"""

from __future__ import annotations

import re
from typing import Any

#: Dropped from every event, whatever its type.
DENIED_FIELDS = frozenset(
    {"reflection", "description", "evidence_url", "focus", "impact_note", "evidence_summary"}
)

#: Field names that look like contact or special-category personal data.
DENIED_NAME = re.compile(
    r"(email|phone|address|birth|\bdob\b|note|comment|health|medical|disab|ethnic|religio"
    r"|gender|sexual|nationality)",
    re.IGNORECASE,
)

#: Event types whose ``reason`` is an organisation's reason, fit for a feed.
ORGANISATIONAL_REASONS = frozenset({"SchoolLeftTrust"})

#: Event types never put in a feed.
EXCLUDED_EVENT_TYPES = frozenset({"CourseFeedbackSubmitted"})

#: Fields that say who an event is about, removed from entries the trust sees as non-employer.
IDENTITY_FIELDS = frozenset(
    {
        "trn",
        "mentee_trn",
        "mentor_trn",
        "approver_trn",
        "decliner_trn",
        "replaces_trn",
        "given_name",
        "family_name",
        "approved_by",
        "declined_by",
        "agreed_with",
    }
)


def field_allowed(event_type: str, name: str) -> bool:
    """Whether a field of an event of ``event_type`` may appear in a feed."""
    if name in DENIED_FIELDS or DENIED_NAME.search(name):
        return False
    return name != "reason" or event_type in ORGANISATIONAL_REASONS


def feed_safe(event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    """The payload as a feed may carry it (``data``: the event's contract fields, as JSON)."""
    return {name: value for name, value in data.items() if field_allowed(event_type, name)}


def redact_identity(
    data: dict[str, Any], stream_id: str, trn: str | None
) -> tuple[dict[str, Any], str]:
    """The payload and stream id without who the event was about (non-employer entries)."""
    kept = {name: value for name, value in data.items() if name not in IDENTITY_FIELDS}
    if trn:
        stream_id = stream_id.replace(trn, "redacted")
    return kept, stream_id
