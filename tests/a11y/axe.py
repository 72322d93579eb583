"""axe-core (from the npm registry by ``make setup`` into ``vendor/``, MPL-2.0) run inside a Playwright page.

The report is saved as JSON under ``tests/artifacts/axe/`` so a person can read every finding,
and the serious and critical ones are returned for the test to fail on.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import artifacts_dir

AXE = Path(__file__).with_name("vendor") / "axe.min.js"
BLOCKING = ("serious", "critical")
ROOT = Path(__file__).resolve().parents[2]


def axe_script() -> Path:
    """The vendored axe-core; fetched with the Makefile's own rule (npm pack) when a checkout has not run setup."""
    if not AXE.exists():
        done = subprocess.run(["make", "-C", str(ROOT), str(AXE.relative_to(ROOT))], capture_output=True, text=True,
                              timeout=300)
        if done.returncode != 0 or not AXE.exists():
            pytest.fail(f"axe-core is missing and npm could not fetch it (make setup): {done.stderr[-500:]}")
    return AXE


def audit(page, name: str) -> list[str]:
    """Inject axe-core into ``page``, save its report as ``<name>.json``; return the blocking violations, readable."""
    page.wait_for_load_state("load")
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(axe_script()))
    report = page.evaluate("""async () => {
        const r = await axe.run(document, {resultTypes: ['violations']});
        return {url: r.url, testEngine: r.testEngine, violations: r.violations, passes: r.passes.length,
                incomplete: r.incomplete.map(i => ({id: i.id, impact: i.impact, nodes: i.nodes.length}))};
    }""")
    report["lang"] = page.evaluate("() => document.documentElement.lang")
    out = artifacts_dir("axe")
    (out / f"{name}.json").write_text(json.dumps(report, indent=2, ensure_ascii=False))
    page.screenshot(path=str(out / f"{name}.png"), full_page=True)
    found = []
    for v in report["violations"]:
        if v["impact"] in BLOCKING:
            targets = "; ".join(" ".join(n["target"]) if isinstance(n["target"][0], str) else str(n["target"])
                                for n in v["nodes"][:6])
            found.append(f"{name}: {v['id']} ({v['impact']}, {len(v['nodes'])} nodes): {v['help']} -> {targets}")
    return found
