"""What the site builds once per app and script root and then keeps: addresses and rendered fragments."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import TypeVar

from flask import current_app, request

T = TypeVar("T")


def kept(name: str, key: Hashable, build: Callable[[], T], limit: int) -> T:
    """Return what the app keeps under `name` for this script root and `key`, built by `build` on first use.

    Each app has its own store (in `app.extensions`), and each script root its own entries, so a site mounted
    under a path prefix never gets another mount's addresses. Past `limit` entries the store starts again, which
    bounds a worker's memory whatever keys arrive.
    """
    store = current_app.extensions.setdefault(name, {})
    full_key = (request.script_root, key)
    value = store.get(full_key)
    if value is None:
        if len(store) >= limit:
            store.clear()
        value = store[full_key] = build()
    return value
