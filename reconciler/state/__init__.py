"""The state file: store, model, journal, lock, saved plans."""
