"""A stand-in for an analytics snippet a site adds to its helpdesk, and a window on what reached it.

Every response sets ``_ga`` (analytics) and ``tracker`` (a cookie no policy
category claims) unless the request already carried them, the way a tag
manager does. ``X-Seen-Cookies`` lists the names of the cookies the helpdesk
received, so tests can tell what the gateway let through.
"""

from __future__ import annotations

from typing import Callable

from django.http import HttpRequest, HttpResponse


class AnalyticsStandIn:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response["X-Seen-Cookies"] = ",".join(sorted(request.COOKIES))
        if "_ga" not in request.COOKIES:
            response.set_cookie("_ga", "GA1.1.1234567890.1700000000", max_age=63072000, samesite="Lax")
        if "tracker" not in request.COOKIES:
            response.set_cookie("tracker", "t-1", samesite="Lax")
        return response
