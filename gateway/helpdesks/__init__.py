"""Helpdesk adapters: the gateway's questions to a helpdesk, in each helpdesk's own API."""
