"""Outbox: the wording of every email, the queue steps write to, and the one sender that
delivers with retry."""
