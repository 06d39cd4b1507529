"""External links: which to keep, sign or strip, and the pages of the redirect endpoint."""
