"""The month after the meeting (R13, R14): decisions, decision sheets, chasing the
administrator, LARP, reviews and follow-ups."""
