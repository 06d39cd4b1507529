"""The banner's stylesheet and script, served by the gateway from its own path.

Both are static: the banner's HTML carries everything that varies (texts,
the endpoint, the return path) in attributes, so the page's CSP sees two
same-origin files and no inline code or style. Their URLs carry a hash of
their content (``?v=``), so browsers may cache them for a long time.

The script only improves the plain form, which works without it: it posts
the choice (the clicked button's ``action``) in the background to the form's
``action`` attribute (``Accept: application/json``), removes the banner,
shows the "Cookie settings" link and announces the change
(``privacy-gateway:consent`` event on ``document`` with the new choices, and
a polite status message). If the background post fails, the form is
submitted normally.

Isolation from the page's styles: a scoped reset, not a shadow root. The
stylesheet resets the banner's roots (``#pgw-consent``, ``#pgw-settings``) to
initial values and reverts every descendant to the browser's own styles,
then applies the banner's rules; every declaration is ``!important`` and
every selector starts with an id. An author's ``!important`` rule beats a
normal one whatever its selector, so only important rules can defeat e.g.
``*{color:red !important}``; between important rules the id wins. It looks
and works the same with and without JavaScript, and needs nothing beyond
the one same-origin stylesheet the page's CSP already has to allow. A
shadow root would isolate fully, but it has to be built by the script (a
declarative one shows nothing in browsers without support), so without
JavaScript the banner would need this reset anyway. What the reset cannot
defeat: page rules that are ``!important`` and name an id as well (more
specific than, or as specific and later than, the banner's), important
rules in cascade layers, and inline styles a page's script puts on the
banner's elements; ``direction`` is left to the page (``all`` excludes it).
"""

from __future__ import annotations

import hashlib

# The scoped reset of the module docstring: roots to initial, descendants to the
# browser's own styles, then the banner's rules; _stylesheet() makes every
# declaration !important. Lengths are in px: rem would follow the page's
# html{font-size}.
_ROOTS = ("#pgw-consent", "#pgw-settings")
_RULES: tuple[tuple[str, str], ...] = (
    ("#pgw-consent,#pgw-settings", "all:initial"),
    (",".join(f"{r} *,{r}::before,{r}::after,{r} *::before,{r} *::after" for r in _ROOTS), "all:revert"),
    ("#pgw-consent,#pgw-consent *,#pgw-settings,#pgw-settings *", "box-sizing:border-box"),
    ("#pgw-consent",
     "display:block;position:fixed;left:0;right:0;bottom:0;z-index:2147483000;max-width:736px;max-height:85vh;"
     "overflow:auto;margin:0 auto;padding:16px 20px;background:#fff;color:#1a1a1a;border:2px solid #1a1a1a;"
     "border-bottom:0;border-radius:8px 8px 0 0;box-shadow:0 -2px 12px rgba(0,0,0,.25);"
     'font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;text-align:left;letter-spacing:normal'),
    ("#pgw-consent.pgw-static",
     "position:static;margin:32px auto;border-bottom:2px solid #1a1a1a;border-radius:8px;box-shadow:none"),
    ("#pgw-consent h1,#pgw-consent h2", "display:block;margin:0 0 8px;font-size:19.2px;font-weight:700;line-height:1.3;color:inherit"),
    ("#pgw-consent p", "display:block;margin:0 0 12px"),
    ("#pgw-consent a", "color:#0b4f9c;text-decoration:underline;cursor:pointer"),
    ("#pgw-consent form", "display:block;margin:0"),
    ("#pgw-consent fieldset",
     "display:block;min-width:0;margin:0 0 12px;padding:8px 12px;border:1px solid #767676;border-radius:5px"),
    ("#pgw-consent legend", "display:block;float:none;width:auto;padding:0 4px;font-size:16px;font-weight:600;color:inherit"),
    ("#pgw-consent .pgw-cat", "display:block;margin:6px 0"),
    ("#pgw-consent .pgw-cat input",
     "display:inline-block;width:18px;height:18px;margin:0 6px 0 0;padding:0;vertical-align:-2px"),
    ("#pgw-consent .pgw-cat label", "display:inline;margin:0;font-weight:600"),
    ("#pgw-consent .pgw-always", "font-size:14.4px;color:#3d3d3d"),
    ("#pgw-consent .pgw-desc", "display:block;margin:0 0 0 25.6px;font-size:14.4px;color:#3d3d3d"),
    ("#pgw-consent .pgw-note", "font-size:14.4px;padding:6px 10px;background:#f1f5fb;border-left:4px solid #0b4f9c"),
    ("#pgw-consent .pgw-actions", "display:flex;flex-wrap:wrap;gap:8px;margin:0"),
    ("#pgw-consent form+p", "margin-top:12px"),
    # The controller's block on the settings page (gateway/http/organisation.py).
    ("#pgw-consent .pgw-org",
     "display:block;margin:20px 0 0;padding:12px 0 0;border-top:1px solid #767676;font-size:14.4px;color:#3d3d3d"),
    ("#pgw-consent .pgw-org p", "margin:0 0 6px"),
    ("#pgw-consent button",
     "display:inline-block;flex:1 1 144px;min-height:44px;margin:0;padding:8px 16px;font:inherit;font-weight:600;"
     "text-align:center;cursor:pointer;border:2px solid #0b4f9c;border-radius:5px;background:#0b4f9c;color:#fff"),
    ("#pgw-consent button.pgw-secondary", "background:#fff;color:#0b4f9c"),
    ("#pgw-consent button:disabled", "cursor:wait;opacity:.7"),
    ("#pgw-consent :focus-visible,#pgw-settings :focus-visible", "outline:3px solid #c25e00;outline-offset:2px"),
    ("#pgw-settings",
     "display:block;position:fixed;left:8px;bottom:8px;z-index:2147483000;"
     "font:14px/1.4 system-ui,-apple-system,\"Segoe UI\",Roboto,sans-serif;color:#1a1a1a;letter-spacing:normal"),
    ("#pgw-settings a",
     "display:inline-block;padding:5px 10px;background:#fff;color:#0b4f9c;border:1px solid #0b4f9c;"
     "border-radius:5px;text-decoration:underline;cursor:pointer"),
    ("#pgw-settings .pgw-saved", "display:inline-block;margin:0 8px 0 0;padding:5px 10px;background:#1a1a1a;color:#fff;border-radius:5px"),
)


def _stylesheet(rules: tuple[tuple[str, str], ...]) -> str:
    lines = []
    for selector, declarations in rules:
        body = ";".join(f"{d.strip()} !important" for d in declarations.split(";") if d.strip())
        lines.append(f"{selector}{{{body}}}")
    lines.append("@media print{#pgw-consent,#pgw-settings{display:none !important}}")
    return "\n".join(lines) + "\n"


CSS = _stylesheet(_RULES)

JS = """\
(function () {
  "use strict";
  var root = document.getElementById("pgw-consent");
  if (!root || !window.fetch || !window.FormData || !window.URLSearchParams) { return; }
  var form = root.querySelector("form");
  if (!form) { return; }
  var clicked = null;
  // The buttons are named "action", so the form's action property is them, not the URL.
  var endpoint = form.getAttribute("action");
  if (!endpoint) { return; }
  form.addEventListener("click", function (event) {
    var target = event.target && event.target.closest ? event.target.closest("button") : null;
    if (target) { clicked = target; }
  });

  function showSettingsLink() {
    var url = root.getAttribute("data-settings-url");
    if (!url) { return; }
    var box = document.createElement("div");
    box.className = "pgw-settings";
    box.id = "pgw-settings";
    var saved = document.createElement("span");
    saved.className = "pgw-saved";
    saved.setAttribute("role", "status");
    saved.textContent = root.getAttribute("data-saved-label") || "";
    var link = document.createElement("a");
    link.href = url;
    link.textContent = root.getAttribute("data-settings-label") || "Cookie settings";
    box.appendChild(saved);
    box.appendChild(link);
    document.body.appendChild(box);
    setTimeout(function () { if (saved.parentNode) { saved.parentNode.removeChild(saved); } }, 6000);
  }

  form.addEventListener("submit", function (event) {
    var button = event.submitter || clicked;
    event.preventDefault();
    var body = new URLSearchParams(new FormData(form));
    if (button && button.name) { body.set(button.name, button.value); }
    var buttons = form.querySelectorAll("button");
    for (var i = 0; i < buttons.length; i++) { buttons[i].disabled = true; }
    fetch(endpoint, {
      method: "POST", body: body, credentials: "same-origin", headers: {"Accept": "application/json"}
    }).then(function (response) {
      if (!response.ok) { throw new Error("consent not saved: " + response.status); }
      return response.json();
    }).then(function (state) {
      if (root.parentNode) { root.parentNode.removeChild(root); }
      showSettingsLink();
      document.dispatchEvent(new CustomEvent("privacy-gateway:consent", {detail: state}));
    }).catch(function () {
      for (var j = 0; j < buttons.length; j++) { buttons[j].disabled = false; }
      if (button && button.name) {
        var hidden = document.createElement("input");
        hidden.type = "hidden";
        hidden.name = button.name;
        hidden.value = button.value;
        form.appendChild(hidden);
      }
      HTMLFormElement.prototype.submit.call(form);
    });
  });
})();
"""


class Asset:
    """One static file: its bytes, content type and content hash."""

    def __init__(self, name: str, text: str, content_type: str) -> None:
        self.name = name
        self.body = text.encode("utf-8")
        self.content_type = content_type
        self.version = hashlib.sha256(self.body).hexdigest()[:16]

    def url(self, prefix: str) -> str:
        return f"{prefix}/{self.name}?v={self.version}"


STYLESHEET = Asset("banner.css", CSS, "text/css; charset=utf-8")
SCRIPT = Asset("banner.js", JS, "text/javascript; charset=utf-8")
ASSETS = {asset.name: asset for asset in (STYLESHEET, SCRIPT)}
