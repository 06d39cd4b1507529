"""Templates: language fallback, HTML escaping, one-line subjects."""

from __future__ import annotations

from gateway.notify.templates import CompiledTemplate
from gateway.policy.notifications import Template

TEMPLATE = Template.model_validate({
    "subject": "Case {case_id}",
    "text": "Hello {recipient_name}: {link}",
    "html": "<p>Hello {recipient_name}: <a href=\"{link}\">open</a></p>",
    "languages": {"nb": {"subject": "Sak {case_id}", "text": "Hei {recipient_name}"}},
})


def test_placeholders_needed_across_translations() -> None:
    assert CompiledTemplate(TEMPLATE).needs == {"case_id", "recipient_name", "link"}


def test_the_language_falls_back_from_region_to_language_to_default() -> None:
    template = CompiledTemplate(TEMPLATE)
    values = {"case_id": "T1", "recipient_name": "Kari", "link": "https://x/_l/t"}
    assert template.render("nb-NO", values).subject == "Sak T1"
    assert template.render("NB", values).text == "Hei Kari"
    assert template.render("nb", values).html is None  # the translation has no HTML
    assert template.render("de", values).subject == "Case T1"
    assert template.render(None, values).text == "Hello Kari: https://x/_l/t"


def test_html_values_are_escaped_and_subjects_stay_one_line() -> None:
    template = CompiledTemplate(TEMPLATE)
    rendered = template.render(None, {"case_id": "T1\r\nBcc: evil@x", "recipient_name": "<b>&\"",
                                      "link": "https://x/?a=1&b=2"})
    assert "\n" not in rendered.subject and "\r" not in rendered.subject
    assert rendered.html == '<p>Hello &lt;b&gt;&amp;&quot;: <a href="https://x/?a=1&amp;b=2">open</a></p>'
