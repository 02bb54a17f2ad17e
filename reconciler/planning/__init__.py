"""Planning: the pure planner (no I/O) and the catalogue checks."""
