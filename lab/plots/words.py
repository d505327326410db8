"""Words people read: counts with the right plural, "a 7" / "an 8", numbers
without exponent notation or needless digits, and a stranger's text shown as written (`plain`).  Plain Python (no
Streamlit), so every message uses it.
"""
from __future__ import annotations

import math
import re

SUPERSCRIPTS = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")
# Beyond these, digits stop helping a reader: 1e-5 reads 1×10⁻⁵ and 1e15 reads 1×10¹⁵.
SMALLEST_PLAIN, LARGEST_PLAIN = 1e-4, 1e15


def plural(count: float, noun: str, many: str | None = None) -> str:
    """The noun for `count` of it: unit → unit / units; `many` for irregular ones (e.g. "digits' sets")."""
    return noun if count == 1 else (many or noun + "s")


def count(n: float, noun: str, many: str | None = None) -> str:
    """"1 dead unit", "3 dead units", "14,070 steps": the number for people, the noun agreeing with it."""
    return f"{number(n)} {plural(n, noun, many)}"


def article(word) -> str:
    """The word with "a" or "an" before it, by sound: "a 7", "an 8", "an 11", "an 18,000", "an epoch".

    Digits are read as numbers: eight, eleven and eighteen (and 80-89, 800-899…) begin with a vowel.
    """
    text = str(word)
    digits = text.replace(",", "")
    if digits.isdigit():
        lead = digits[:len(digits) % 3 or 3]           # the group read first: "18" of 18,000, "8" of 8,500
        vowel = digits.startswith("8") or lead in ("11", "18")
    else:
        vowel = text[:1].lower() in set("aeiou")
    return f"{'an' if vowel else 'a'} {text}"


def number(x: float, digits: int = 4) -> str:
    """A number as a person writes it: 4294967295 → 4,294,967,295; 0.05 → 0.05; 2.5e-06 → 2.5×10⁻⁶.

    Whole numbers are written in full with thousands separators; others to `digits` significant
    digits, trailing zeros dropped.  Only the very small or very large get a power of ten, never "e+09".
    """
    x = float(x)
    if not math.isfinite(x):
        return "infinite" if math.isinf(x) else "not a number"
    if x == 0:
        return "0"
    if abs(x) < SMALLEST_PLAIN or abs(x) >= LARGEST_PLAIN:
        mantissa, exponent = f"{x:.{digits - 1}e}".split("e")
        mantissa = mantissa.rstrip("0").rstrip(".")
        return f"{mantissa}×10{str(int(exponent)).translate(SUPERSCRIPTS)}"
    if x == int(x):
        return f"{int(x):,}"
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(x))))
    text = f"{x:,.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def apart(a: float, b: float, least: int = 3, most: int = 6) -> tuple[str, str]:
    """a and b written with the fewest significant digits (`least` at least) that tell them apart.

    "6.04 billion, more than the 6 billion", where one decimal wrote "6.0 billion, more than the 6.0 billion".
    """
    for digits in range(least, most + 1):
        rounded = float(f"{a:.{digits}g}"), float(f"{b:.{digits}g}")
        if rounded[0] != rounded[1] or a == b:
            return number(rounded[0], digits), number(rounded[1], digits)
    return number(a, most), number(b, most)


def percent(fraction: float, decimals: int = 1) -> str:
    """0.9712 → "97.1%" (a fraction of one, as people write a share)."""
    return f"{fraction:.{decimals}%}"


def clause(sentence: str) -> str:
    """A sentence to sit inside another (in brackets, before a comma): without its closing full stop."""
    return sentence[:-1] if sentence.endswith(".") and not sentence.endswith("..") else sentence


# -- a stranger's text, shown as written ---------------------------------------------------

_ESCAPED = re.compile(r"\\([!-/:-@\[-`{-~])")      # a backslash before ASCII punctuation
_ACTIVE = re.compile(r"([\\`*_\[\]<>!$|~#:@])")     # what makes links, images, HTML, LaTeX, colours, icons
# Some of Markdown's actors work on the text after escapes are undone: GFM's bare links (http://…,
# www.…, a@b.c), emoji and Streamlit's :material/…: icons.  An invisible break stops each.
BREAK = "\u200b"                                    # zero-width space
_BARE = re.compile(r"(?<=[:@])(?=\S)|(?i:(?<=www)(?=\.))")


def plain(text: str) -> str:
    """`text` on one line, shown as written: everything Markdown (and Streamlit's :colour[]/:icon:) would
    act on is escaped, and an invisible break follows each ':' and '@' and splits 'www.', so no bare
    link, emoji or icon forms either.

    Idempotent, so a label built from another label is not escaped twice.  Every message that quotes
    a stranger's text (a file's name, its meta, a link's value, a refusal of a file) goes through it.
    """
    one_line = " ".join(str(text).replace(BREAK, "").split())
    escaped = _ACTIVE.sub(r"\\\1", _ESCAPED.sub(r"\1", one_line))
    return _BARE.sub(BREAK, escaped)
