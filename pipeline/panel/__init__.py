"""Panel steps: act on what `pipeline.rules` decides (cut-off, reminders, screening, slots,
the pack); each time-based step is a job source listed in `pipeline/schedule.py`."""
