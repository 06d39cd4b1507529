"""The banner's stylesheet and script, served by the gateway from its own path.

Both are static: the banner's HTML carries everything that varies (texts,
the endpoint, the return path) in attributes, so the page's CSP sees two
same-origin files and no inline code or style. Their URLs carry a hash of
their content (``?v=``), so browsers may cache them for a long time.

The script only improves the plain form, which works without it: it posts
the choice in the background (``Accept: application/json``), removes the
banner, shows the "Cookie settings" link and announces the change
(``privacy-gateway:consent`` event on ``document`` with the new choices, and
a polite status message). If the background post fails, the form is
submitted normally.
"""

from __future__ import annotations

import hashlib

CSS = """\
#pgw-consent,#pgw-consent *{box-sizing:border-box}
#pgw-consent{position:fixed;left:0;right:0;bottom:0;z-index:2147483000;max-width:46rem;max-height:85vh;overflow:auto;
margin:0 auto;padding:1rem 1.25rem;background:#fff;color:#1a1a1a;border:2px solid #1a1a1a;border-bottom:0;
border-radius:.5rem .5rem 0 0;box-shadow:0 -2px 12px rgba(0,0,0,.25);font:16px/1.5 system-ui,-apple-system,
"Segoe UI",Roboto,sans-serif;text-align:left;letter-spacing:normal}
#pgw-consent.pgw-static{position:static;margin:2rem auto;border-bottom:2px solid #1a1a1a;border-radius:.5rem;box-shadow:none}
#pgw-consent h1,#pgw-consent h2{margin:0 0 .5rem;font-size:1.2rem;line-height:1.3;color:inherit}
#pgw-consent p{margin:0 0 .75rem}
#pgw-consent a{color:#0b4f9c;text-decoration:underline}
#pgw-consent fieldset{margin:0 0 .75rem;padding:.5rem .75rem;border:1px solid #767676;border-radius:.3rem}
#pgw-consent legend{padding:0 .25rem;font-weight:600}
#pgw-consent .pgw-cat{margin:.4rem 0}
#pgw-consent .pgw-cat input{display:inline-block;width:1.15rem;height:1.15rem;margin:0 .4rem 0 0;padding:0;vertical-align:-.15rem}
#pgw-consent .pgw-cat label{display:inline;margin:0;font-weight:600}
#pgw-consent .pgw-always{font-size:.9rem;color:#3d3d3d}
#pgw-consent .pgw-desc{display:block;margin:0 0 0 1.6rem;font-size:.9rem;color:#3d3d3d}
#pgw-consent .pgw-note{font-size:.9rem;padding:.4rem .6rem;background:#f1f5fb;border-left:4px solid #0b4f9c}
#pgw-consent .pgw-actions{display:flex;flex-wrap:wrap;gap:.5rem}
#pgw-consent button{flex:1 1 9rem;min-height:2.75rem;padding:.5rem 1rem;font:inherit;font-weight:600;cursor:pointer;
border:2px solid #0b4f9c;border-radius:.3rem;background:#0b4f9c;color:#fff}
#pgw-consent button.pgw-secondary{background:#fff;color:#0b4f9c}
#pgw-consent :focus-visible,.pgw-settings a:focus-visible{outline:3px solid #c25e00;outline-offset:2px}
.pgw-settings{position:fixed;left:.5rem;bottom:.5rem;z-index:2147483000;font:14px/1.4 system-ui,sans-serif}
.pgw-settings a{display:inline-block;padding:.3rem .6rem;background:#fff;color:#0b4f9c;border:1px solid #0b4f9c;
border-radius:.3rem;text-decoration:underline}
.pgw-settings .pgw-saved{margin-right:.5rem;padding:.3rem .6rem;background:#1a1a1a;color:#fff;border-radius:.3rem}
@media print{#pgw-consent,.pgw-settings{display:none}}
"""

JS = """\
(function () {
  "use strict";
  var root = document.getElementById("pgw-consent");
  if (!root || !window.fetch || !window.FormData || !window.URLSearchParams) { return; }
  var form = root.querySelector("form");
  if (!form) { return; }
  var clicked = null;
  form.addEventListener("click", function (event) {
    var target = event.target;
    if (target && target.tagName === "BUTTON") { clicked = target; }
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
    fetch(form.action, {
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
