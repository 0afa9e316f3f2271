"""The words of referral forms, as data: which label names which field, where, and what answers.

`labels` matches text against these tables; a new synonym goes here, not there.
"""

from __future__ import annotations

# --- Sections: where a generic label ("Name", "Email") stands decides what it means. ---

CHILD, REFERRER, HOUSEHOLD = "child", "referrer", "household"
CONSENT, GENOGRAM, MANAGER = "consent", "genogram", "manager"
SUBMISSION = "submission"
SECTION_WORDS = (
    (SUBMISSION, ("submission",)),
    (CONSENT, ("consent",)),
    (GENOGRAM, ("genogram",)),
    (MANAGER, ("manager sign", "sign off", "signoff", "authorisation", "management oversight")),
    (REFERRER, ("referrer", "referring", "person making", "professional", "your details")),
    (HOUSEHOLD, ("household", "parent", "carer", "family member", "adult", "sibling")),
    (CHILD, ("child", "young person", "unborn", "subject")),
)


# --- Which field a label names. ---

# Rows of (field, label prefixes, the sections where they name it), as `FIELD_LABELS` below.
LabelTable = tuple[tuple[str, tuple[str, ...], frozenset[str] | None], ...]

# Where a row's labels count: in any section, or anywhere but the referrer's part.
ANY = None
NOT_REFERRER = frozenset({CHILD, ""})
# A label for one of the name fields never holds a word of `NOT_A_NAME` ("Referrer's email").
NAME_FIELDS = frozenset({"child_name", "referrer_name", "forename", "surname"})
NOT_A_NAME = (
    *("role", "agency", "team", "phone", "telephone", "tel", "mobile", "email", "e mail"),
    *("address", "manager", "job", "title", "organisation", "organization", "signature"),
    *("date", "position", "service", "school", "gp", "relationship", "setting"),
)
# Nor is a label with one of these words the panel ("Panel date").
NOT_A_PANEL = ("date", "time", "question", "decision", "outcome")
# Labels that start like a question but still name a field; checked before anything else.
FIRST_LABELS: LabelTable = (
    ("consent_who", ("who agreed", "who gave consent", "consent given by", "consent from"), ANY),
    ("consent_reason_not", ("if not why not", "if no why not"), frozenset({CONSENT})),
    (
        "consent_reason_not",
        ("reason consent not", "why consent was not", "if consent not given", "if no consent"),
        ANY,
    ),
    ("genogram_why", ("why or why not", "why"), frozenset({GENOGRAM})),
    ("genogram_why", ("why is a genogram", "reason for genogram", "genogram reason"), ANY),
    (
        "family_informed",
        (
            *("has the family been told", "have the family been told", "family informed"),
            *("is the family aware", "family aware", "has the family been informed"),
        ),
        ANY,
    ),
    ("panel_question", ("the question for the panel", "question for the panel"), ANY),
    ("panel_question", ("what are you asking the panel", "what is the panel being asked"), ANY),
)
# (field, label prefixes, sections where the label means that field; None for any section)
FIELD_LABELS: LabelTable = (
    (
        "child_dob",
        (
            *("date of birth", "dob", "d o b", "edd", "due date", "expected due date", "child dob"),
            *("expected date of delivery", "childs date of birth", "childs dob"),
        ),
        NOT_REFERRER,
    ),
    (
        "child_name",
        (
            *("childs name", "child name", "childs full name", "name of child", "cyp name"),
            *("name of the child", "child / young persons name", "young persons name"),
            *("full name of child", "full name of the child", "child full name"),
            *("name of young person", "name of the young person"),
        ),
        ANY,
    ),
    (
        "forename",
        (
            *("forename", "forenames", "first name", "given name", "childs first name"),
            *("childs forename", "childs forenames", "childs given name"),
        ),
        NOT_REFERRER,
    ),
    (
        "surname",
        ("surname", "last name", "family name", "childs surname", "childs last name"),
        NOT_REFERRER,
    ),
    (
        "referrer_email",
        (
            *("referrers email", "referrer email", "email of referrer", "referrers e mail"),
            "referrer e mail",
        ),
        ANY,
    ),
    ("manager_consulted", ("manager consulted", "line manager consulted", "discussed with"), ANY),
    ("referral_date", ("date of referral", "referral date", "date of request"), ANY),
    ("referrer_role", ("referrers role", "referrer role", "role of referrer"), ANY),
    ("referrer_agency", ("referring agency", "referrers agency", "referrer agency"), ANY),
    ("referrer_phone", ("referrers phone", "referrer phone", "referrers telephone"), ANY),
    ("referrer_team", ("referrers team", "referrer team"), ANY),
    (
        "referrer_name",
        (
            *("referrers name", "referrer name", "name of referrer", "referred by", "referrer"),
            *("name of person making", "name of professional", "professionals name", "your name"),
            *(
                "completed by",
                "form completed by",
                "person completing",
                "name of person completing",
            ),
        ),
        ANY,
    ),
    (
        "referrer_email",
        ("email", "e mail", "email address", "your email", "contact email", "work email"),
        frozenset({REFERRER}),
    ),
    ("referrer_name", ("name", "full name"), frozenset({REFERRER})),
    ("referrer_role", ("role", "job title", "position", "designation"), frozenset({REFERRER})),
    (
        "referrer_agency",
        ("agency", "organisation", "organization", "service"),
        frozenset({REFERRER}),
    ),
    ("referrer_team", ("team",), frozenset({REFERRER})),
    (
        "referrer_phone",
        ("phone", "telephone", "tel", "mobile", "contact number"),
        frozenset({REFERRER}),
    ),
    ("child_name", ("name", "full name"), frozenset({CHILD})),
    ("child_gender", ("gender", "sex"), NOT_REFERRER),
    ("child_ethnicity", ("ethnicity", "ethnic origin", "ethnic background"), NOT_REFERRER),
    ("child_language", ("first language", "main language", "language"), NOT_REFERRER),
    ("child_send", ("send", "sen", "ehcp", "special educational needs"), NOT_REFERRER),
    (
        "child_school",
        ("school or setting", "school", "setting", "nursery", "education setting"),
        NOT_REFERRER,
    ),
    ("child_gp", ("gp", "gp practice", "gp surgery", "doctor"), NOT_REFERRER),
    ("child_nhs_number", ("nhs number", "nhs no", "nhs"), NOT_REFERRER),
    (
        "child_council_id",
        ("council id", "lcs id", "mosaic id", "child id", "person id", "local authority id"),
        NOT_REFERRER,
    ),
    ("child_current_plan", ("current plan", "current status", "plan status"), NOT_REFERRER),
    ("other_children", ("other children", "siblings"), ANY),
    (
        "agencies",
        ("agencies involved", "professionals involved", "other agencies", "services involved"),
        ANY,
    ),
    ("lead_professional", ("lead professional", "lead practitioner"), ANY),
    ("needs", ("needs", "identified needs", "presenting needs", "concerns"), ANY),
    ("strengths", ("strengths", "protective factors", "what is working well"), ANY),
    ("risks", ("risks", "risk factors", "worries", "what are we worried about"), ANY),
    (
        "tried",
        ("what has been tried", "support already provided", "previous support", "interventions"),
        ANY,
    ),
    (
        "child_views",
        (
            *("the childs views", "childs views", "views of the child", "voice of the child"),
            *("child / young persons views", "young persons views", "wishes and feelings"),
        ),
        ANY,
    ),
    (
        "parent_views",
        (
            *("the parents or carers views", "parents or carers views", "parents views"),
            *("parent / carer views", "parents / carers views", "views of the parents"),
            *("parent views", "carers views"),
        ),
        ANY,
    ),
    ("outcomes_sought", ("outcomes sought", "desired outcomes", "outcomes"), ANY),
    ("manager_name", ("managers name", "manager name", "name of manager", "signed off by"), ANY),
    ("manager_role", ("managers role", "manager role", "role of manager"), ANY),
    ("manager_date", ("date signed off", "sign off date", "date of sign off"), ANY),
    ("manager_name", ("name",), frozenset({MANAGER})),
    ("manager_role", ("role", "job title", "position"), frozenset({MANAGER})),
    ("manager_date", ("date",), frozenset({MANAGER})),
    ("referral_date", ("date",), frozenset({SUBMISSION})),
    (
        "panel",
        (
            *("panel / locality", "panel or locality", "panel", "locality", "which panel"),
            *("submission panel", "submitted to"),
        ),
        ANY,
    ),
    (
        "request",
        (
            *("type of request", "request type", "types of request", "support requested"),
            *("request", "type of support requested", "what support are you requesting"),
            *("what are you requesting", "what is being requested", "support needed"),
        ),
        ANY,
    ),
    # A form's "Genogram" part asks its question without the word ("Required?").
    ("genogram_required", ("required", "needed", "is one required"), frozenset({GENOGRAM})),
)


# --- Request types and reasons, by their words. ---

REQUEST_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("section20", ("section 20", "section20", "s20", "sec 20", "emergency admission")),
    ("admission_to_care", ("admission to care", "high cost package", "larp", "accommodation")),
    ("return_home", ("return home", "returning home", "kinship")),
    ("threshold_resolution", ("threshold",)),
    ("step_down", ("step down", "transition")),
    ("specific_service", ("specific service", "access to a service", "particular service")),
    ("multi_agency_package", ("multi agency package", "package of support", "support package")),
    ("lead_professional", ("lead professional", "team around the family", "taf")),
    ("advice", ("advice", "guidance", "consultation")),
)
REASON_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("no_improvement", ("no improvement", "not improved", "no progress", "lack of progress")),
    ("high_cost", ("high cost", "cost of the support", "costly")),
    ("escalation", ("escalation", "escalate", "escalating")),
)

# A question about the past names a request type without asking for it ("Has the child ever
# been accommodated under Section 20?"): a yes to it is history, not the request.
HISTORY_WORDS = (
    *("ever", "previous", "previously", "past", "history", "before", "prior", "considered"),
)
# A question about something other than this referral ("Is the family in temporary
# accommodation?") names a request type's word without asking for it; these words make it one
# about this referral.
ABOUT_THIS_WORDS = ("this", "request", "requesting", "referral", "asking", "seeking")


# --- Answers. ---

# The first word of an answer that says yes, or no.
YES_WORDS = ("yes", "y", "true", "agreed", "given")
NO_WORDS = ("no", "n", "false", "not", "refused", "declined")
# Answers that say nothing either way ("N/A", "Not known"), though they start like a "no".
NO_ANSWER_WORDS = ("n / a", "na", "not applicable", "not known", "unknown", "dont know")
# What Word shows in an empty control: a prompt, not an answer.
PROMPTS = ("click or tap", "click here", "choose an item", "enter text", "enter a date")


# --- The names form designers give their fields ("Child.DateOfBirth", "txtRefEmail"). ---

# Type prefixes some designers put before every name: text box, check box, radio, drop-down.
TYPE_PREFIXES = frozenset(
    ("txt", "tb", "chk", "cb", "cbx", "rb", "rdo", "opt", "dd", "ddl", "cbo", "lst", "dt", "fld")
)
