"""Legal basis at sign-up: the notice injected into forms, active consent enforced, records kept, withdrawal."""
