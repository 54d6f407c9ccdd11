"""Lead names: the standard 12, their aliases in file headers, and the Einthoven/Goldberger relations."""
from __future__ import annotations

import re

LIMB_LEADS: tuple[str, ...] = ("I", "II", "III", "aVR", "aVL", "aVF")
PRECORDIAL_LEADS: tuple[str, ...] = ("V1", "V2", "V3", "V4", "V5", "V6")
STANDARD_LEADS: tuple[str, ...] = LIMB_LEADS + PRECORDIAL_LEADS

_ALIASES = {
    "MLII": "II",  # MIT-BIH "modified lead II" (chest-placed limb electrodes)
    "MLI": "I",
    "MLIII": "III",
    "VX": "X",
    "VY": "Y",
    "VZ": "Z",
    "LEAD_I": "I",
    "LEAD_II": "II",
    "LEAD_III": "III",
}


def normalize_lead_name(name: str) -> str:
    """Map a header's lead label to the standard spelling ('avr' -> 'aVR', 'v1' -> 'V1', 'MLII' -> 'II').

    Unknown names are kept (stripped) so that extra leads such as Frank X/Y/Z or V3R survive.
    """
    raw = str(name).strip()
    key = re.sub(r"[\s\-]+", "_", raw).upper()
    key = key.removeprefix("LEAD_") if key.startswith("LEAD_") and key not in _ALIASES else key
    if key in _ALIASES:
        return _ALIASES[key]
    if key in {"I", "II", "III"}:
        return key
    if key in {"AVR", "AVL", "AVF"}:
        return "a" + key[1:]
    match = re.fullmatch(r"V(\d{1,2})(R?)", key)
    if match:
        return f"V{int(match.group(1))}{match.group(2)}"
    return raw


def standard_order(leads: list[str]) -> list[str]:
    """Standard 12 first in textbook order, then any extra leads in their original order."""
    std = [lead for lead in STANDARD_LEADS if lead in leads]
    return std + [lead for lead in leads if lead not in STANDARD_LEADS]
