"""Notification hiding: personal content kept out of the e-mail a helpdesk sends.

``rules`` decides per recipient (first match wins), ``message`` reads a MIME
message with the stdlib ``email`` package, ``compose`` writes the neutral
replacement, ``rewriter`` turns one message and its envelope into what is
relayed (shared by every channel), and ``smtp`` is the relay the helpdesk
uses as its smarthost.
"""
