"""Data: reading and writing, ingest, locks, the demo generator, report scopes."""
