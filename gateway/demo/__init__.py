"""A built-in demo helpdesk to put behind the gateway (``policies/demo.yaml``).

Start it with :func:`gateway.demo.helpdesk.start_helpdesk` or, on its own,
``python -m gateway.demo.helpdesk``. Kept free of imports here so running the
module with ``-m`` does not import it twice.
"""
