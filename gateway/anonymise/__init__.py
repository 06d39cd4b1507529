"""Anonymisation of cases: erasure requests, retention schedules, and the gateway's own data."""
