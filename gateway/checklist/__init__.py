"""The GDPR checklist of a deployed policy: ``privacy-gateway checklist --policy P``."""
