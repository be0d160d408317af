"""The dashboard page's files as the `dashboard` HTTP function serves them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from shared.dashboard_page import ROOT, asset


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
        "../shared/service.py",
        "..%2fshared%2fservice.py",
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
