"""Data-subject requests: the self-service portal, the verification of requesters, the request's lifecycle in
the store and the helpdesk, the operators' side and the export (GDPR Art. 12, 15-21)."""
