"""Open every page of the built docs site in headless Chromium, offline, and report what is broken.

    python tools/check_docs.py SITE_DIR [--browser PATH]

The site is served from a local http.server; every request to another host is aborted, so the
pages render as they would on a machine without a network. A page fails on

- a formula left unrendered: an `arithmatex` element that MathJax did not typeset, a MathJax
  error node, TeX delimiters (`\\(`, `\\[`, `$$`, `$...$` with TeX in it) left in the text, or a
  backslash shown inside a typeset `\\text{...}` (a command that was not understood there);
- an image that does not load (naturalWidth 0), or any file of the site that answers 4xx/5xx;
- a broken internal link: an href to a page of the site that does not exist, or to an anchor
  that the target page does not have;
- a script error.

Requests to other hosts are listed as a note (the page must render without them), not a failure.
Chromium: `--browser`, else $CHROMIUM, else the first of chromium-headless-shell / chromium /
chromium-browser / google-chrome on PATH, else Playwright's own download. Exit code 0 when
nothing is broken, 1 otherwise, 2 when no browser can be started.
"""

import argparse
import functools
import http.server
import os
import shutil
import sys
import threading
from collections import defaultdict
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlsplit


TIMEOUT_MS = 30_000
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
BROWSERS = ("chromium-headless-shell", "chromium", "chromium-browser", "google-chrome")

# Wait until every formula is typeset (or MathJax gave up with an error node).
WAIT_FOR_MATH = """() => [...document.querySelectorAll('.arithmatex')].every(
    e => e.querySelector('mjx-container, .katex, mjx-merror'))"""

# Make lazy images load, then wait for every image to finish (loaded or failed).
LOAD_IMAGES = """async () => {
    const images = [...document.images];
    images.forEach(img => { img.loading = 'eager'; });
    await Promise.all(images.map(img => img.complete ? null : new Promise(done => {
        img.addEventListener('load', done, {once: true});
        img.addEventListener('error', done, {once: true});
    })));
}"""

# Everything the checks need from one rendered page.
INSPECT = r"""() => {
    const skip = 'pre, code, script, style, textarea, .arithmatex, mjx-container, .katex';
    const tex = /\\\(|\\\)|\\\[|\\\]|\$\$|\$[^$\n]*[\\^_{}][^$\n]*\$/;
    const rawText = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        if (node.parentElement.closest(skip)) continue;
        const text = node.textContent.replace(/\s+/g, ' ').trim();
        if (tex.test(text)) rawText.push(text.slice(0, 120));
    }
    const short = e => e.textContent.replace(/\s+/g, ' ').trim().slice(0, 120);
    return {
        formulas: document.querySelectorAll('.arithmatex').length,
        untypeset: [...document.querySelectorAll('.arithmatex')]
            .filter(e => !e.querySelector('mjx-container, .katex')).map(short),
        mathErrors: [...document.querySelectorAll('mjx-merror, .katex-error')].map(e =>
            e.closest('[data-mjx-error]')?.getAttribute('data-mjx-error') || e.title || short(e)),
        rawText: rawText,
        literal: [...document.querySelectorAll('mjx-assistive-mml mtext')].map(short)
            .filter(text => text.includes('\\')),
        images: [...document.images].map(img => ({src: img.currentSrc || img.src,
                                                  width: img.naturalWidth})),
        links: [...document.querySelectorAll('a[href]')].map(a => a.href),
        ids: [...document.querySelectorAll('[id], a[name]')].map(e => e.id || e.name),
    };
}"""


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def _serve(site: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    handler = functools.partial(_QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


def _browser_path(given: str | None) -> str | None:
    if given or os.environ.get("CHROMIUM"):
        return given or os.environ["CHROMIUM"]
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


def _page_path(site: Path, url_path: str) -> Path | None:
    """The file that serves `url_path`, or None when the site has none."""
    target = site / unquote(url_path).lstrip("/")
    if target.is_dir():
        target = target / "index.html"
    return target if target.is_file() else None


def check(site: Path, browser: str | None) -> int:
    from playwright.sync_api import Error as PlaywrightError, sync_playwright

    site = site.resolve()
    pages = sorted(p.relative_to(site).as_posix() for p in site.rglob("*.html"))
    pages = [p for p in pages if p != "404.html"]
    server, base = _serve(site)
    problems: dict[str, list[str]] = defaultdict(list)
    blocked: set[str] = set()
    ids: dict[str, set[str]] = {}  # page file -> ids found in the rendered page
    links: list[tuple[str, str]] = []  # (page, absolute href)
    counts = defaultdict(int)
    try:
        with sync_playwright() as pw:
            try:
                chromium = pw.chromium.launch(executable_path=browser, headless=True)
            except PlaywrightError as error:
                first = str(error).strip().splitlines()[0]
                print(f"check_docs: cannot start Chromium ({browser or 'Playwright'}): {first}")
                return 2
            context = chromium.new_context()

            def route(r):
                if urlsplit(r.request.url).hostname in LOCAL_HOSTS:
                    r.continue_()
                else:
                    blocked.add(r.request.url)
                    r.abort("internetdisconnected")

            context.route("**/*", route)
            for name in pages:
                page = context.new_page()
                page.on("pageerror", lambda e, name=name: problems[name].append(f"script: {e}"))

                def response(resp, name=name):
                    if resp.status >= 400 and urlsplit(resp.url).hostname in LOCAL_HOSTS:
                        problems[name].append(f"HTTP {resp.status}: {resp.url[len(base) - 1 :]}")

                page.on("response", response)
                try:
                    page.goto(base + name, wait_until="load", timeout=TIMEOUT_MS)
                except PlaywrightError as error:
                    problems[name].append(f"page does not load: {str(error).splitlines()[0]}")
                page.evaluate(LOAD_IMAGES)
                try:
                    page.wait_for_function(WAIT_FOR_MATH, timeout=TIMEOUT_MS)
                except PlaywrightError:
                    pass  # reported below as untypeset formulas
                found = page.evaluate(INSPECT)
                page.close()
                counts["formulas"] += found["formulas"]
                counts["images"] += len(found["images"])
                for text in found["untypeset"]:
                    problems[name].append(f"formula not typeset: {text}")
                for text in found["mathErrors"]:
                    problems[name].append(f"formula error: {text.strip()}")
                for text in found["literal"]:
                    problems[name].append(f"TeX command shown as text in a formula: {text}")
                for text in found["rawText"]:
                    problems[name].append(f"raw TeX in the text: {text}")
                for image in found["images"]:
                    if image["width"] == 0:
                        problems[name].append(f"image does not load: {image['src']}")
                ids[name] = set(found["ids"])
                links += [(name, href) for href in found["links"]]
            chromium.close()
    finally:
        server.shutdown()

    for name, href in links:
        url, fragment = urldefrag(href)
        parts = urlsplit(url)
        if not href.startswith(base) or parts.scheme not in ("http", "https"):
            continue
        counts["links"] += 1
        target = _page_path(site, parts.path)
        shown = href[len(base) - 1 :]
        if target is None:
            problems[name].append(f"broken link: {shown}")
        elif fragment and target.suffix == ".html":
            page_ids = ids.get(target.relative_to(site).as_posix())
            if page_ids is not None and unquote(fragment) not in page_ids:
                problems[name].append(f"broken anchor: {shown}")

    for name in sorted(problems):
        print(f"{name}:")
        for problem in dict.fromkeys(problems[name]):
            print(f"  {problem}")
    if blocked:
        print(f"note: {len(blocked)} request(s) to other hosts blocked (offline), e.g.:")
        for url in sorted(blocked)[:5]:
            print(f"  {url}")
    total = sum(len(dict.fromkeys(p)) for p in problems.values())
    print(
        f"check_docs: {len(pages)} pages, {counts['formulas']} formulas, {counts['images']} "
        f"images, {counts['links']} internal links: {total} problem(s)"
    )
    return 1 if total else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("site", type=Path, help="the folder `mkdocs build` wrote")
    parser.add_argument("--browser", help="Chromium executable (default: found on PATH)")
    args = parser.parse_args()
    if not (args.site / "index.html").is_file():
        print(f"check_docs: {args.site} has no index.html; build the site first")
        return 2
    try:
        import playwright  # noqa: F401
    except ImportError:
        print("check_docs: needs the playwright package (pip install playwright)")
        return 2
    return check(args.site, _browser_path(args.browser))


if __name__ == "__main__":
    sys.exit(main())
