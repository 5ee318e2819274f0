"""Text from data files shown inside Markdown: every character Markdown or HTML would act on is escaped, so a name
like `![t](http://host/p.png)` is shown as typed and makes no browser fetch anything; and an address in it
(http://…, www.…, name@host) is not turned into a link: an invisible word joiner breaks the pattern GitHub-flavoured
Markdown links by itself (after the ':' of '://', after 'www', after '@'), the text reads the same."""

from __future__ import annotations

import re

_ACTIVE = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:&])")
_AUTOLINK = re.compile(r"(?<=:)(?=//)|(?<=www)(?=\.)|(?<=@)", re.IGNORECASE)
JOINER = "\u2060"  # WORD JOINER: no width, no line break


def plain(value: object) -> str:
    """`value` as literal text for st.markdown, st.caption and the like (labels of metrics, buttons, expanders,
    tabs and radio options included)."""
    text = _AUTOLINK.sub(JOINER, "" if value is None else str(value))
    return _ACTIVE.sub(r"\\\1", text)
