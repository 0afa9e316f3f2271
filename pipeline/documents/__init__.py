"""Documents: recognising and reading what referrers attach, one module per kind."""
