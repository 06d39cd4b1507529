"""Filters: one module per policy section, registered in ``registry``."""
