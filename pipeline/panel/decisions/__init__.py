"""The month after the meeting: decisions, decision sheets, reviews and follow-ups (R13, R14)."""
