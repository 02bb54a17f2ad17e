"""HubSpot: the one client (connection, endpoints, failures, retries, rate limit, token,
budget, the record codec)."""
