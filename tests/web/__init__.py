"""Tests of the staff console, `masp web`."""
