"""The admin dashboard page: the static files of ``web/dashboard`` as the ``dashboard`` HTTP
function serves them. Pure: no framework, only the file named, never anything outside the folder.

    /dashboard               -> asset("")          (index.html)
    /dashboard/app.js        -> asset("app.js")    (a leading "dashboard/" is accepted too)
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "web" / "dashboard"

CONTENT_TYPES: dict[str, str] = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
}

# One plain file name: no separators, no "..", no hidden files.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*(\.[A-Za-z0-9]+)+")


def asset(path: str, *, root: Path = ROOT) -> tuple[bytes, str] | None:
    """The content and content type of the page file at ``path`` (relative to the page), or
    None when there is no such file. Only regular files directly in ``root`` whose suffix has a
    known content type are served, so a traversal or a symlink out of the folder gets None."""
    name = path.strip("/")
    if name == "dashboard" or name.startswith("dashboard/"):
        name = name[len("dashboard") :].lstrip("/")
    name = name or "index.html"
    if not _NAME.fullmatch(name):
        return None
    content_type = CONTENT_TYPES.get(Path(name).suffix.lower())
    if content_type is None:
        return None
    candidate = root / name
    if candidate.is_symlink() or not candidate.is_file():
        return None
    return candidate.read_bytes(), content_type


# Where the page may send requests besides its own origin: Google's sign-in (Identity Toolkit,
# and Secure Token for refreshing an ID token). In the emulator, servers on this machine too.
IDENTITY_ORIGINS = ("https://identitytoolkit.googleapis.com", "https://securetoken.googleapis.com")
LOOPBACK_SOURCES = ("http://127.0.0.1:*", "http://localhost:*")  # CSP has no IPv6 literals


def security_headers(*, root: Path = ROOT, emulator: bool = False) -> dict[str, str]:
    """Headers to send with every page file: a Content-Security-Policy that allows the page's
    own files, its one inline script (by hash), and requests to its own origin and Google's
    sign-in only (``emulator``: and to the emulators on this machine), as app.js itself
    insists; no framing, so the circuit controls cannot be clickjacked."""
    html = (root / "index.html").read_text(encoding="utf-8")
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() + "'"
        for body in re.findall(r"<script>(.*?)</script>", html, flags=re.DOTALL)
    )
    policy = "; ".join(
        [
            "default-src 'none'",
            f"script-src 'self' {hashes}".rstrip(),
            "style-src 'self'",
            "img-src 'self' data:",
            " ".join(
                ["connect-src 'self'", *IDENTITY_ORIGINS, *(LOOPBACK_SOURCES if emulator else ())]
            ),
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )
    return {
        "Content-Security-Policy": policy,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-cache",
    }
