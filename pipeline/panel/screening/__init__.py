"""R9 Screening: every complete referral goes to the Service Managers, whose reply decides it.

Each configured manager gets their own request: one email with the one-page case summary,
the case's documents and a token — the request's random nonce signed with the installation
key — in the subject and body. A reply counts only when it carries a valid token, comes from
the manager that token was sent to, belongs to the case the thread is about, and was not used
before; anything else is refused, audited and shown to the administrator, never applied.
The first valid answer decides the case and closes the other managers' requests, so one
manager on leave never holds a referral up. `masp screen` is the administrator's fallback.

`tokens` signs and reads the tokens; `queries` finds the cases and requests; `requests` asks
the managers and reminds them; `jobs` is the tick's job source; `replies` takes a manager's
reply and `decisions` applies a decision. What is decided lives in `pipeline.rules.screening`.
"""
