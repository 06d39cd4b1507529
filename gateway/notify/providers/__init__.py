"""One module per provider API: a pure function from the helpdesk's request to the one that goes on.

Each module defines a :class:`~gateway.notify.providers.base.Provider`
subclass and is listed in ``PROVIDERS`` (``registry``); the egress listener
(:mod:`gateway.notify.egress`) finds the route, reads the body and calls it.
"""
