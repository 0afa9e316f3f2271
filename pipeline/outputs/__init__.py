"""Outputs: what the service shows or sends people (status, and later agenda, pack, reports)."""
