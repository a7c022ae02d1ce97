"""Check the built documentation site: every internal link and anchor resolves; a screenshot of every page.

    bash tools/build_docs.sh                              # builds site/
    python tools/check_docs.py site                       # link check only
    python tools/check_docs.py site --shots docs-shots    # + a full-page PNG of every page (headless Chromium)

The link check reads every HTML file of the site and follows each relative ``href`` and ``src``
(pages, images, downloads) and each ``#anchor`` to an element id; it exits 1 listing what is
broken. Links to other sites are listed with ``--external`` but not fetched. Screenshots are taken
with Chromium (``chromium`` on PATH, or ``--chromium``) driven over its DevTools pipe, at
``--width`` pixels and the page's full height (up to ``--max-height``): look at them before a
release, as a reader would.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit


class _Page(HTMLParser):
    """The links and element ids of one HTML page."""

    def __init__(self):
        super().__init__()
        self.links, self.ids = [], set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get("id"):
            self.ids.add(attrs["id"])
        if tag == "a" and attrs.get("name"):
            self.ids.add(attrs["name"])
        for key in ("href", "src"):
            if attrs.get(key) and not (tag == "link" and attrs.get("rel") in ("canonical", "alternate")):
                self.links.append(attrs[key])


def _parse(path):
    page = _Page()
    page.feed(path.read_text(errors="replace"))
    return page


def _target(site, page, link):
    """The file a relative link of ``page`` points to, and its anchor."""
    parts = urlsplit(link)
    path = unquote(parts.path)
    base = site if path.startswith("/") else page.parent
    target = (base / path.lstrip("/")).resolve() if path else page
    if target.is_dir():
        target = target / "index.html"
    return target, parts.fragment


def check_links(site, external=False):
    """Broken internal links of the site as ``(page, link, why)``; external links printed if asked."""
    site = Path(site).resolve()
    pages = sorted(site.rglob("*.html"))
    parsed = {p: _parse(p) for p in pages}
    broken, outside = [], set()
    for page, info in parsed.items():
        for link in info.links:
            scheme = urlsplit(link).scheme
            if scheme in ("http", "https"):
                outside.add(link)
                continue
            if scheme or link.startswith("//"):  # mailto:, data:, javascript:
                continue
            target, anchor = _target(site, page, link)
            if not target.exists():
                broken.append((page.relative_to(site), link, "no such file"))
            elif anchor and target.suffix == ".html":
                ids = parsed[target].ids if target in parsed else _parse(target).ids
                if anchor not in ids:
                    broken.append((page.relative_to(site), link, f"no id '{anchor}' in {target.relative_to(site)}"))
    if external:
        print("\n".join(sorted(outside)))
    return broken, len(pages)


class _Chromium:
    """Headless Chromium over ``--remote-debugging-pipe`` (the DevTools protocol as NUL-separated JSON)."""

    def __init__(self, executable):
        read_theirs, write_ours = os.pipe()
        read_ours, write_theirs = os.pipe()
        # Chromium reads commands from fd 3 and writes replies to fd 4
        self.proc = subprocess.Popen(
            [executable, "--headless=new", "--remote-debugging-pipe", "--no-sandbox", "--disable-gpu",
             "--hide-scrollbars", "--no-first-run", "--mute-audio", "about:blank"],
            pass_fds=(3, 4), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=lambda: (os.dup2(read_theirs, 3), os.dup2(write_theirs, 4)))  # noqa: PLW1509 - no threads here
        os.close(read_theirs)
        os.close(write_theirs)
        self.out, self.inp = os.fdopen(write_ours, "wb"), os.fdopen(read_ours, "rb")
        self.buffer, self.next_id, self.session = b"", 0, None
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        self.call("Page.enable")

    def _message(self):
        while b"\0" not in self.buffer:
            chunk = self.inp.read1(1 << 20)
            if not chunk:
                raise RuntimeError("Chromium closed its DevTools pipe")
            self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method, **params):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params}
        if self.session and not method.startswith("Target."):
            message["sessionId"] = self.session
        self.out.write(json.dumps(message).encode() + b"\0")
        self.out.flush()
        while True:
            reply = self._message()
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]

    def wait_for(self, event):
        while self._message().get("method") != event:
            pass

    def screenshot(self, url, path, width, max_height):
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=900, deviceScaleFactor=1, mobile=False)
        self.call("Page.navigate", url=url)
        self.wait_for("Page.loadEventFired")
        self.call("Runtime.evaluate", expression="document.fonts.ready", awaitPromise=True)
        height = min(max_height, int(self.call("Page.getLayoutMetrics")["cssContentSize"]["height"]))
        shot = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                         clip={"x": 0, "y": 0, "width": width, "height": height, "scale": 1})
        Path(path).write_bytes(base64.b64decode(shot["data"]))
        return height

    def close(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


def screenshots(site, folder, width=1280, max_height=16000, chromium=None):
    """A PNG of every page of ``site`` in ``folder``, named after the page's path; ``(name, height)`` each."""
    executable = chromium or shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if executable is None:
        raise SystemExit("no Chromium found: install it (apt-get install chromium) or pass --chromium PATH")
    site, folder = Path(site).resolve(), Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    pages = sorted(p for p in site.rglob("index.html") if "assets" not in p.parts)
    browser, taken = _Chromium(executable), []
    try:
        for page in pages:
            name = str(page.parent.relative_to(site)).replace(os.sep, "--").replace(".", "home") + ".png"
            taken.append((name, browser.screenshot(page.as_uri(), folder / name, width, max_height)))
    finally:
        browser.close()
    return taken


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("site", help="the built site (mkdocs build's site_dir)")
    parser.add_argument("--shots", help="folder for a full-page screenshot of every page")
    parser.add_argument("--width", type=int, default=1280, help="window width in CSS pixels (default 1280)")
    parser.add_argument("--max-height", type=int, default=16000, help="cut screenshots at this height (default 16000)")
    parser.add_argument("--chromium", help="the Chromium executable (default: chromium on PATH)")
    parser.add_argument("--external", action="store_true", help="list the links to other sites (not fetched)")
    args = parser.parse_args(argv)
    if not (Path(args.site) / "index.html").exists():
        parser.error(f"{args.site} holds no index.html: build the site first (bash tools/build_docs.sh)")
    broken, count = check_links(args.site, args.external)
    for page, link, why in broken:
        print(f"{page}: {link}: {why}")
    print(f"links: {len(broken)} broken in {count} pages")
    if args.shots:
        for name, height in screenshots(args.site, args.shots, args.width, args.max_height, args.chromium):
            print(f"  {name}: {args.width} x {height}")
        print(f"screenshots in {args.shots}")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
