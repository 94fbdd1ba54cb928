"""axe-core in the browser tests: WCAG 2.1 A and AA rules, run in the page.

The script comes from the npm registry at test time (never committed): the pinned release's
tarball is downloaded once into .cache/, checked against the registry's published SHA-512,
and injected into each page checked.
"""

from __future__ import annotations

import base64
import hashlib
import io
import tarfile
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page

VERSION = "4.14.1"
TARBALL = f"https://registry.npmjs.org/axe-core/-/axe-core-{VERSION}.tgz"
# The registry's dist.integrity for this version (`npm view axe-core@4.14.1 dist.integrity`).
INTEGRITY = "sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ=="
WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
CACHE = Path(__file__).resolve().parents[2] / ".cache" / f"axe-core-{VERSION}"


def _verified(data: bytes) -> bytes:
    digest = "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()
    if digest != INTEGRITY:
        pytest.fail(f"axe-core {VERSION} from the registry does not match its integrity hash.")
    return data


def axe_source() -> str:
    script = CACHE / "axe.min.js"
    if not script.exists():
        try:
            with urllib.request.urlopen(TARBALL, timeout=60) as response:
                data = _verified(response.read())
        except OSError as error:
            pytest.fail(
                f"axe-core could not be fetched from the npm registry ({error}); the "
                "accessibility tests need it: check the network and run again."
            )
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
            member = archive.extractfile("package/axe.min.js")
            assert member is not None
            CACHE.mkdir(parents=True, exist_ok=True)
            script.write_bytes(member.read())
    return script.read_text()


def violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's WCAG 2.1 A/AA violations on the page as it is now."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(content=axe_source())
    result: dict[str, Any] = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG_21_AA
    )
    return result["violations"]


def describe(found: list[dict[str, Any]]) -> str:
    """The violations in words, with the elements involved, for an assertion message."""
    lines = []
    for violation in found:
        targets = [" ".join(map(str, node["target"])) for node in violation["nodes"][:5]]
        lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']} at {targets}")
    return "\n".join(lines)
