"""Applying a plan: its phases, each sending through the one client."""
