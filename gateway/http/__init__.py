"""Building blocks of HTTP and addressing, shared by the proxy, the filters and the egress listeners.

Nothing here knows a feature: headers (hop-by-hop, forwarding), paths and
hosts (normalised or refused), content codings, the gateway's own replies,
request framing, the bounded body reader, the upstream client and its
errors, the client address behind trusted proxies, address sets.
"""
