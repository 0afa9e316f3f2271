"""Intake: every email is ledgered, read, filed to a case and answered."""
