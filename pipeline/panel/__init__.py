"""Panel rules: meetings, deadlines, completeness; pure functions of (case, clock, config)."""
