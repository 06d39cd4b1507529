"""The data-subject request portal in a real browser (headless Chromium), with JavaScript off as on: submit the
form, confirm from the link in the mail the gateway sent (a real SMTP sink), see the receipt and the status."""

from __future__ import annotations

import pytest

from tests.support.browser import Browser, Page
from tests.support.portal import PortalSite, StartPortal, start_portal  # noqa: F401  (fixture)

EMAIL = "kari@example.no"


async def text_of(page: Page) -> str:
    """The page's text, read over DevTools (works with the page's scripts off)."""
    document = await page.send("DOM.getDocument", depth=-1)
    html = await page.send("DOM.getOuterHTML", nodeId=document["root"]["nodeId"])
    return str(html["outerHTML"])


async def type_into(page: Page, selector: str, text: str) -> None:
    await page.click(selector, navigates=False)
    await page.send("Input.insertText", text=text)


@pytest.mark.parametrize("javascript", [False, True])
async def test_submit_confirm_and_follow_a_request_in_a_real_browser(
        browser: Browser, start_portal: StartPortal, javascript: bool) -> None:
    site: PortalSite = await start_portal()
    page = await browser.new_page(javascript=javascript)
    await page.navigate(site.base + site.prefix)
    html = await text_of(page)
    assert "Your privacy rights" in html and "Data protection officer" in html
    await page.click("input[value=access]", navigates=False)
    await type_into(page, "#email", EMAIL)
    await type_into(page, "#text", "Everything you have about me")
    await page.click("button[type=submit]", navigates=True)
    assert "Check your mailbox" in await text_of(page)

    await site.wait_for(lambda: len(site.mails_to(EMAIL)) == 1)
    await page.navigate(site.base + site.link_in(site.mails_to(EMAIL)[0]))
    assert "Confirm your request" in await text_of(page)
    await page.click("button[type=submit]", navigates=True)
    receipt = await text_of(page)
    assert "Your request is received" in receipt
    request_id = site.request_id(receipt)

    await site.wait_for(lambda: len(site.helpdesk.opened) == 1 and len(site.mails_to(EMAIL)) == 2)
    await page.click("main a", navigates=True)  # the status page, as linked from the receipt page
    status = await text_of(page)
    assert request_id in status and "In progress" in status and "Access" in status
    mailed = site.text_of(site.mails_to(EMAIL)[1])
    assert request_id in mailed and site.link_in(site.mails_to(EMAIL)[1], "status").split("/status/")[0] == (
        site.prefix)

    await page.navigate(site.base + site.prefix)  # an error shows on the form again, with what was typed
    await type_into(page, "#email", "not an address")
    await page.click("button[type=submit]", navigates=True)
    again = await text_of(page)
    assert "Enter a valid e-mail address." in again and "Choose what you would like to ask." in again
    assert 'value="not an address"' in again
