"""Sensitive data: detectors of personal data in text (pure, compiled once), and what the gateway does with them.

``base`` defines a detection and the detector interface; ``detectors/`` has
one module per kind of data; ``scanner`` runs them together over a text.
Nothing here imports aiohttp: the filters that act on requests and pages
come on top.
"""
