"""Suite-wide policy: a skipped test is a failed test, so a missing browser or database can never pass silently.

A test may opt out with `@pytest.mark.allow_skip(reason=...)`; setting ALLOW_SKIPS=1 relaxes the policy for a
local run on a machine that lacks something (never set it in CI).
"""

import os

import pytest


def _skips_allowed(item=None) -> bool:
    """Return True when this run or this test is allowed to skip."""
    if os.environ.get("ALLOW_SKIPS") == "1":
        return True
    return item is not None and item.get_closest_marker("allow_skip") is not None


def pytest_configure(config):
    """Register the opt-out marker so --strict-markers accepts it."""
    config.addinivalue_line("markers", "allow_skip(reason): this test may skip without failing the suite")
    config.addinivalue_line("markers", "packaging: builds and installs the wheel into a fresh virtualenv")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Turn a skip into a failure that says why it would have been skipped."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and not hasattr(report, "wasxfail") and not _skips_allowed(item):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped tests fail this suite (set ALLOW_SKIPS=1 to allow locally): {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    """Turn a module-level skip (importorskip, skip(allow_module_level=True)) into a collection error."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and not _skips_allowed():
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped module fails this suite (set ALLOW_SKIPS=1 to allow locally): {reason}"
