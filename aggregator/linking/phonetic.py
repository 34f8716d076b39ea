"""Phonetic keys of single words: NYSIIS codes and consonant skeletons.

The name index (``names.NameIndex``) looks a review's words up by these keys, so that
misspelled names ("Challimachi" for "Callimachi", "Syracusa" for "Siracusa") still
meet their catalog entry before the fuzzy comparison.
"""

from __future__ import annotations

import functools

from aggregator.linking.text import fold

__all__ = ["nysiis", "skeleton"]


@functools.lru_cache(maxsize=65536)
def nysiis(word: str) -> str:
    """The NYSIIS phonetic code of one word (New York State Identification and
    Intelligence System, Taft 1970), not truncated.

    >>> [nysiis(w) for w in ["Callimachi", "Challimachi", "Calimacchi", "Callamachi"]]
    ['CALANAC', 'CALANAC', 'CALANAC', 'CALANAC']
    >>> nysiis("Calamari"), nysiis("Carmichael"), nysiis("Kallimachi")
    ('CALANAR', 'CARNACAL', 'CALANAC')
    """
    name = "".join(ch for ch in fold(word).upper() if "A" <= ch <= "Z")
    if not name:
        return ""
    for old, new in (("MAC", "MCC"), ("KN", "NN"), ("K", "C"), ("PH", "FF"), ("PF", "FF"),
                     ("SCH", "SSS")):  # fmt: skip
        if name.startswith(old):
            name = new + name[len(old) :]
            break
    for old, new in (("EE", "Y"), ("IE", "Y"), ("DT", "D"), ("RT", "D"), ("RD", "D"),
                     ("NT", "D"), ("ND", "D")):  # fmt: skip
        if name.endswith(old):
            name = name[: -len(old)] + new
            break
    key = [name[0]]
    chars = list(name)
    original = list(name)  # the H and W rules look at the letter as written
    vowels = set("AEIOU")
    i = 1
    while i < len(chars):
        ch = chars[i]
        nxt = chars[i + 1] if i + 1 < len(chars) else ""
        if ch == "E" and nxt == "V":
            chars[i : i + 2] = ["A", "F"]
        elif ch in vowels:
            chars[i] = "A"
        elif ch == "Q":
            chars[i] = "G"
        elif ch == "Z":
            chars[i] = "S"
        elif ch == "M":
            chars[i] = "N"
        elif ch == "K":
            chars[i] = "N" if nxt == "N" else "C"
        elif ch == "S" and nxt == "C" and i + 2 < len(chars) and chars[i + 2] == "H":
            chars[i : i + 3] = ["S", "S", "S"]
        elif ch == "P" and nxt == "H":
            chars[i : i + 2] = ["F", "F"]
        elif ch == "H" and (original[i - 1] not in vowels or nxt not in vowels):
            chars[i] = chars[i - 1]
        elif ch == "W" and original[i - 1] in vowels:
            chars[i] = original[i - 1]
        if chars[i] != key[-1]:
            key.append(chars[i])
        i += 1
    code = "".join(key)
    if len(code) > 1 and code.endswith("S"):
        code = code[:-1]
    if code.endswith("AY"):
        code = code[:-2] + "Y"
    if len(code) > 1 and code.endswith("A"):
        code = code[:-1]
    return code


def skeleton(word: str) -> str:
    """Consonant skeleton: vowels and y dropped, doubled letters collapsed.

    >>> skeleton("Syracusa"), skeleton("Siracusa"), skeleton("Gerstmann")
    ('srcs', 'srcs', 'grstmn')
    """
    out: list[str] = []
    for ch in fold(word):
        if ch.isalpha() and ch not in "aeiouy" and (not out or out[-1] != ch):
            out.append(ch)
    return "".join(out)
