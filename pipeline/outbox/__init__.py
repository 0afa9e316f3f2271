"""Outbox: steps queue emails here; one sender delivers them with retry."""
