"""The dashboard page's files as the `dashboard` HTTP function serves them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from functions.dashboard_page import ROOT, asset, security_headers


@pytest.mark.parametrize("path", ["", "/", "dashboard", "/dashboard", "/dashboard/", "index.html"])
def test_the_page_itself_is_index_html(path: str) -> None:
    """The bare page, with or without the function's prefix, is index.html."""
    found = asset(path)
    assert found is not None
    body, content_type = found
    assert body == (ROOT / "index.html").read_bytes()
    assert content_type == "text/html; charset=utf-8"


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("app.js", "text/javascript; charset=utf-8"),
        ("/dashboard/style.css", "text/css; charset=utf-8"),
    ],
)
def test_assets_beside_the_page_are_served_with_their_type(path: str, content_type: str) -> None:
    """Each asset comes with the content type a browser needs to use it."""
    found = asset(path)
    assert found is not None
    assert found[1] == content_type


@pytest.mark.parametrize(
    "path",
    [
        "../../main.py",
        "..%2f..%2fmain.py",
        "/etc/passwd",
        "dashboard/../../README.md",
        "web/dashboard/app.js",
        ".hidden.js",
        "missing.js",
        "app.js\x00.css",
        "Makefile",
    ],
)
def test_nothing_outside_the_folder_nor_unknown_is_served(path: str) -> None:
    """Traversals, nested paths, hidden, missing and typeless names all get None."""
    assert asset(path) is None


def test_a_symlink_out_of_the_folder_is_not_followed(tmp_path: Path) -> None:
    """A link planted in the folder does not expose the file it points to."""
    secret = tmp_path / "secret.json"
    secret.write_text("{}")
    root = tmp_path / "page"
    root.mkdir()
    (root / "leak.json").symlink_to(secret)
    (root / "config.json").write_text('{"apiKey": "k"}')
    assert asset("leak.json", root=root) is None
    assert asset("config.json", root=root) == (b'{"apiKey": "k"}', "application/json")


def test_the_page_loads_its_assets_relative_to_itself() -> None:
    """index.html names its assets relatively (any mount point works) and loads nothing from
    elsewhere: no CDN."""
    html = (ROOT / "index.html").read_text()
    refs = re.findall(r'(?:src|href)="([^"]*)"', html)
    assert sorted(refs) == ["app.js", "style.css"]


def test_the_policy_allows_exactly_the_inline_script_of_the_page(tmp_path: Path) -> None:
    """The CSP carries the hash of index.html's inline script, so editing it without the
    policy following is impossible, and forbids framing."""
    (tmp_path / "index.html").write_text("<head><script>let a = 1;</script></head>")
    csp = security_headers(root=tmp_path)["Content-Security-Policy"]
    assert "'sha256-xY6QKfH9PRsQnLz56nj6MBwiK5oHg+im1Jkpdp1x/Ck='" in csp
    assert "frame-ancestors 'none'" in csp
    assert "'unsafe-inline'" not in csp
