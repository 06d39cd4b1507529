"""A GDPR privacy gateway for helpdesks: a policy-driven async reverse proxy.

Where things live
-----------------
The top level tells the story of a request::

    __main__   the CLI (serve, check, explain, demo, links, consent, legal-basis, requests, checklist ...)
    workers    N processes on one port, supervised
    server     assembles a gateway from a policy; reload and stop
    admin      the admin listener: /metrics, /healthz, /readyz, /explain
    listener   the public listener: aiohttp's server with a proxy's limits
    proxy      one request: head checks, filters, upstream, body back
    websocket  WebSocket hand-shakes and relaying
    runtime    a compiled policy: chain, routes, upstream pool, store
    chain      the filter phases, run in policy order, failing closed
    exchange   per-request state that the filters read and write
    routing    routes by path, with their limits
    explain    why the firewall decides what it decides
    watcher    policy files polled by content, for reload
    logs       JSON process log and access log
    metrics    Prometheus metrics

Building blocks (know no feature)::

    http/      headers, paths and hosts, codings, replies, framing, upload, form and JSON
               body codecs, Accept-Language, upstream client and errors, client IP,
               address sets, the controller's block
    rewrite/   streaming HTML and text rewriters: links, text nodes and tags
    policy/    typed models per section, loader with file:line errors, JSON Schema
    store/     durable state: SQLite (default) and PostgreSQL
    lib/       bounded memos, key rings, metric batches, check-digit validators

Features (each one package, glued to the chain by one module in filters/)::

    filters/   one thin module per HTTP filter: firewall, cookie consent, link signing, legal basis,
               data-subject requests, sensitive data
    consent/   cookie consent on the wire: categories, banner, receipts
    links/     external links signed or stripped: tokens, endpoint, CLI
    notify/    notification hiding: rules, the shared rewriter, SMTP relay, egress listener, providers/
    sensitive/ personal data in text: detectors, context words, scanner, masks, marks on pages
    legal/     legal basis at sign-up: the notice in forms, active consent, records, withdrawal
    requests/  data-subject requests: the portal, verification, lifecycle, worker, export, CLI, API
    demo/      the built-in demo helpdesk
    checklist/ the GDPR checklist of a policy (the checklist verb)
"""

__version__ = "0.1.0"
