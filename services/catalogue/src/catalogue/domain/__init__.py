"""The catalogue's domain: pure deciders for providers and courses (no I/O)."""

from catalogue.domain.courses import (
    Badge,
    BadgeCourse,
    Course,
    CourseCommand,
    ListCourse,
    Listing,
    RetireCourse,
    course_decider,
    listing_decider,
)
from catalogue.domain.providers import (
    Provider,
    ProviderCommand,
    RegisterProvider,
    provider_decider,
)

__all__ = [
    "Badge",
    "BadgeCourse",
    "Course",
    "CourseCommand",
    "ListCourse",
    "Listing",
    "Provider",
    "ProviderCommand",
    "RegisterProvider",
    "RetireCourse",
    "course_decider",
    "listing_decider",
    "provider_decider",
]
