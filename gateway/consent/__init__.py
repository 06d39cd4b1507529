"""Cookie consent enforced at the gateway, with proof of consent.

The filter (``gateway.filters.cookie_consent``) wires these modules together:
``compiled`` (the policy section, compiled once), ``resolve`` (which consent a
request has), ``enforce`` (Cookie and Set-Cookie headers), ``state`` (the
encrypted consent cookie), ``cmp`` (consent managers' cookies), ``decide`` and
``receipts`` (recording a decision), ``expiry`` (deleting withdrawn cookies),
``endpoints`` and ``submission`` (the consent API), ``texts``, ``banner``,
``assets``, ``csp`` and ``inject`` (the banner), ``metrics`` and ``cli``.
"""
