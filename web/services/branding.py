"""Branding checks: a deployment's accent colour must be readable as link text and as a button background."""

from __future__ import annotations

import re

HEX_COLOUR = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
# WCAG 2.2 AA for normal text. The accent is used for links on white and under white button/header text.
MIN_CONTRAST = 4.5
WHITE = "#ffffff"


def _channels(colour: str) -> tuple[float, float, float]:
    """Return the 0..1 sRGB channels of #rgb or #rrggbb."""
    digits = colour.lstrip("#")
    if len(digits) == 3:
        digits = "".join(ch * 2 for ch in digits)
    r, g, b = (int(digits[i:i + 2], 16) / 255 for i in (0, 2, 4))
    return r, g, b


def relative_luminance(colour: str) -> float:
    """Return the WCAG relative luminance of a hex colour."""

    def linear(c: float) -> float:
        """Undo the sRGB transfer curve for one channel."""
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in _channels(colour))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(a: str, b: str) -> float:
    """Return the WCAG contrast ratio between two hex colours (1 to 21)."""
    la, lb = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def accent_problem(accent: str) -> str | None:
    """Return why an accent colour cannot be used (not hex, or too little contrast with white), or None."""
    if not HEX_COLOUR.match(accent or ""):
        return f"SITE_ACCENT must be a hex colour such as #1d4f91, got {accent!r}"
    ratio = contrast_ratio(accent, WHITE)
    if ratio < MIN_CONTRAST:
        return (f"SITE_ACCENT {accent} has a contrast ratio of {ratio:.2f}:1 with white, below the "
                f"{MIN_CONTRAST}:1 that links and button text need; choose a darker shade")
    return None
