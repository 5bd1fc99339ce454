"""The data contract: column names, tables, taxonomy, validation."""
