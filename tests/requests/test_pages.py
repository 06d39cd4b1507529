"""The portal's pages: escaped, labelled, script-free, in the visitor's language, the DPO at the foot."""

from __future__ import annotations

from gateway.requests import pages

FRAME = pages.Frame("/_privacy/requests", ("en", "nb"), {"en": '<aside class="pgw-org">DPO block</aside>', "nb": "NB"})


def test_the_form_escapes_what_was_typed_and_ties_errors_to_their_fields() -> None:
    html = pages.form(FRAME, "en", types=("access", "erasure"), token='t"<', values={
        "type": "erasure", "email": '"><script>x</script>', "text": "</textarea><b>"},
        errors={"email": "error_email"}).decode()
    assert "<script>" not in html and "&lt;/textarea&gt;&lt;b&gt;</textarea>" in html
    assert 'value="t&quot;&lt;"' in html
    assert '<p class="error" id="email-error">Enter a valid e-mail address.</p>' in html
    assert 'aria-describedby="email-hint email-error" aria-invalid="true"' in html
    assert '<a href="#email">Enter a valid e-mail address.</a>' in html
    assert 'value="erasure" checked required' in html and 'id="type"' in html
    assert html.endswith('<aside class="pgw-org">DPO block</aside></body></html>')
    assert 'href="/_privacy/requests?lang=nb" hreflang="nb"' in html  # the language switch


def test_status_pages_name_the_state_and_reason_in_the_requesters_language() -> None:
    status = pages.Status("DSR-ABCDE-12345", "erasure", "refused", "2025-01-01 10:00 UTC", "2025-01-31", "Legal <hold>")
    html = pages.status_page(FRAME, "nb", status).decode()
    assert 'lang="nb"' in html and "Avslått" in html and "Sletting" in html and "Legal &lt;hold&gt;" in html
    assert "<form" not in html
    ready = pages.status_page(FRAME, "en", status, download="/_privacy/requests/download/tok").decode()
    assert '<form method="post" action="/_privacy/requests/download/tok">' in ready
    assert "was downloaded" in pages.status_page(FRAME, "en", status, downloaded=True).decode()


def test_confirmation_is_a_button_that_posts() -> None:
    html = pages.confirm(FRAME, "en", "/_privacy/requests/verify/a.b.c").decode()
    assert '<form method="post" action="/_privacy/requests/verify/a.b.c"><button type="submit">' in html
    assert "default-src 'none'" in dict(pages.HEADERS)["Content-Security-Policy"]
    message = pages.message(FRAME, "en", "limited_title", pages.text("en", "limited_client", minutes=5), back=True)
    assert b"try again in 5 minutes" in message and b'href="/_privacy/requests?lang=en"' in message
