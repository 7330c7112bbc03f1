"""Mentoring's own settings, from the environment (beside the platform's ``ServiceSettings``)."""

from __future__ import annotations

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class MentoringSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    ect_mentor_grace_days: int = Field(
        20,
        ge=0,
        le=3650,
        description="Days an early career teacher may go without a mentor before being flagged",
        validation_alias=AliasChoices("CPD_ECT_MENTOR_GRACE_DAYS", "ect_mentor_grace_days"),
    )
