"""Which forms of a page get the notice, and where in them."""

from __future__ import annotations

import pytest

from gateway.legal.inject import FormInjector
from gateway.rewrite.htmlstream import HtmlStreamRewriter

FRAGMENT = b"<NOTICE>"


def inject(page: bytes, *, url: str = "http://desk.example:8080/new/", methods: tuple[str, ...] = ("POST",)) -> bytes:
    injector = FormInjector(url, lambda path: path == "/new/submit", methods, FRAGMENT)
    rewriter = HtmlStreamRewriter(tag=injector)
    return b"".join(rewriter.feed(page[i:i + 3]) for i in range(0, len(page), 3)) + rewriter.finish()


@pytest.mark.parametrize("action", ["submit", "/new/submit", "http://desk.example/new/submit", "./submit?x=1"])
def test_a_form_posting_to_the_route_gets_the_notice_before_its_submit_button(action: str) -> None:
    page = f'<form method="POST" action="{action}"><input name="a"><button type="button">x</button><button>Go</button></form>'
    assert inject(page.encode()) == page.replace("<button>Go", "<NOTICE><button>Go").encode()


@pytest.mark.parametrize(("page", "expected"), [
    (b'<form method=post action=submit><input type=image src=a.png></form>',
     b'<form method=post action=submit><NOTICE><input type=image src=a.png></form>'),
    (b'<form method=post action=submit><input name=a></form>', b'<form method=post action=submit><input name=a><NOTICE></form>'),
    (b'<form method=get action=submit><button>Go</button></form>', b'<form method=get action=submit><button>Go</button></form>'),
    (b'<form method=post action=/other><button>Go</button></form>', b'<form method=post action=/other><button>Go</button></form>'),
    (b'<form method=post action="https://evil.example/new/submit"><button>Go</button></form>',
     b'<form method=post action="https://evil.example/new/submit"><button>Go</button></form>'),
    (b'<form method=post action=submit><button>1</button><button>2</button></form>',
     b'<form method=post action=submit><NOTICE><button>1</button><button>2</button></form>'),
])
def test_only_the_routes_forms_and_only_once_each(page: bytes, expected: bytes) -> None:
    assert inject(page) == expected


def test_a_form_without_an_action_posts_to_its_page() -> None:
    page = b"<form method=post><button>Go</button></form>"
    assert inject(page, url="http://desk.example/new/submit") == b"<form method=post><NOTICE><button>Go</button></form>"
