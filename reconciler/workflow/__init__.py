"""The library behind each command: reads, then plan, then writes."""
