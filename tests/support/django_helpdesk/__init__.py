"""A minimal Django project serving django-helpdesk, for the integration tests (see tests/support/helpdesk.py)."""
