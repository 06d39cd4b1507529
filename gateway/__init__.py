"""A GDPR privacy gateway for helpdesks: a policy-driven async reverse proxy."""

__version__ = "0.1.0"
