"""Running: batches of notebooks and the command line."""
