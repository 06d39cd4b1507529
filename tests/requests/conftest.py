"""The portal's fixtures (tests/support/portal.py)."""

from tests.support.portal import start_portal  # noqa: F401  (fixture)
