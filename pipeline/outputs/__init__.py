"""Outputs: the documents the service makes (agenda, pack, summary, invitation, status view)."""
