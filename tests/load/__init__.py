"""Load: many customers at once against the live provider (long tests)."""
