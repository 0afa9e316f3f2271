"""The kinds of document a referral needs (SPEC §5 spells them), and document statuses."""

from __future__ import annotations

from enum import StrEnum


class Kind(StrEnum):
    REFERRAL_FORM = "referral_form"
    CHRONOLOGY = "chronology"
    GENOGRAM = "genogram"
    ASSESSMENT = "assessment"
    OTHER = "other"


class Status(StrEnum):
    OK = "ok"
    NEEDS_REVIEW = "needs_review"
    REFUSED = "refused"


# The order documents are listed in (and, later, placed in the pack).
KIND_ORDER = (Kind.REFERRAL_FORM, Kind.CHRONOLOGY, Kind.GENOGRAM, Kind.ASSESSMENT, Kind.OTHER)

LABELS = {
    Kind.REFERRAL_FORM: "Referral form",
    Kind.CHRONOLOGY: "Chronology",
    Kind.GENOGRAM: "Genogram",
    Kind.ASSESSMENT: "Assessment (Early Help Assessment / CAF or equivalent)",
    Kind.OTHER: "Other document",
}
