"""django-helpdesk at /helpdesk/, Django's admin at /admin/, language switching at /i18n/.

Static files and uploaded media (ticket attachments) are served by Django
itself, as a web server in front of it would in production.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.contrib.staticfiles.views import serve as serve_static
from django.urls import include, path, re_path
from django.views.generic import RedirectView
from django.views.static import serve as serve_media

urlpatterns = [
    path("", RedirectView.as_view(url="/helpdesk/")),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("helpdesk/", include("helpdesk.urls", namespace="helpdesk")),
    re_path(r"^static/(?P<path>.*)$", serve_static, {"insecure": True}),
    re_path(r"^media/(?P<path>.*)$", serve_media, {"document_root": settings.MEDIA_ROOT}),
]
