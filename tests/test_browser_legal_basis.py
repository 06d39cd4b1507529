"""The injected consent checkbox in a real browser (headless Chromium), on the demo helpdesk's new-ticket form.

The browser sees the checkbox the gateway injected into the helpdesk's form,
unticked and required: a submission without ticking it never leaves the
browser, and none reaches the helpdesk. Ticked with a real mouse click, the
form is sent, and the helpdesk receives its own fields without the gateway's.
"""

from __future__ import annotations

from tests.support.browser import Browser, Site

CHECKBOX = "input[name=privacy_consent]"


async def test_the_injected_checkbox_makes_consent_active_in_a_real_browser(browser: Browser, demo_site: Site) -> None:
    page = await browser.new_page()
    await page.navigate(demo_site.url + "/tickets/new")
    await page.click("#pgw-consent button[value=reject]", navigates=False)  # the cookie banner out of the way
    await page.wait_for("!document.querySelector('#pgw-consent')")
    assert await page.evaluate(f"document.querySelector('{CHECKBOX}').checked") is False
    assert await page.evaluate(f"document.querySelector('{CHECKBOX}').required") is True
    label = await page.evaluate(f"document.querySelector('{CHECKBOX}').closest('label').innerText")
    assert "I agree that Demo Helpdesk stores my e-mail address" in label
    await page.evaluate(
        "(() => { const f = document.querySelector('form[action=\"/tickets/new\"]');"
        " f.email.value = 'kari@example.no'; f.subject.value = 'Printer'; f.message.value = 'It is on fire'; })()"
    )
    await page.click("form[action='/tickets/new'] button", navigates=False)
    assert await page.evaluate("location.pathname") == "/tickets/new"
    assert await page.evaluate(f"document.querySelector('{CHECKBOX}').validity.valueMissing") is True
    assert "POST /tickets/new" not in demo_site.upstream  # the browser refused to send it

    await page.click(CHECKBOX, navigates=False)
    assert await page.evaluate(f"document.querySelector('{CHECKBOX}').checked") is True
    await page.click("form[action='/tickets/new'] button", navigates=True)
    received = await page.evaluate("document.body.innerText")
    assert "The helpdesk received" in received and "kari@example.no" in received
    assert "privacy_consent" not in received  # the gateway's own field stayed with the gateway
    assert demo_site.upstream.count("POST /tickets/new") == 1
