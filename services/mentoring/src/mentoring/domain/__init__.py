"""The mentoring domain: a pure decider for mentors and their mentorships (no I/O)."""

from mentoring.domain.mentors import (
    DEFAULT_CAPACITY,
    MAX_CAPACITY,
    Assignment,
    AssignMentor,
    EndMentorship,
    Mentor,
    MentorCommand,
    RegisterMentor,
    SetMentorCapacity,
    mentor_decider,
)

__all__ = [
    "DEFAULT_CAPACITY",
    "MAX_CAPACITY",
    "AssignMentor",
    "Assignment",
    "EndMentorship",
    "Mentor",
    "MentorCommand",
    "RegisterMentor",
    "SetMentorCapacity",
    "mentor_decider",
]
