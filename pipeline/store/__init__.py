"""The store beside the pipeline: the database (ledger, cases, outbox, audit) and the files."""
