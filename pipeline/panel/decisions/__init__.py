"""After the meeting (R13, R14): decisions recorded, decision sheets, chasing, LARP, follow-ups."""
