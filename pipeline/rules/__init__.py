"""Pure rules: plain values in (a case's facts, a time, a panel's config), decisions out."""
