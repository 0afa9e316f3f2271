"""The store beside the pipeline: the database (ledger, cases, documents, outbox, audit) and files."""
