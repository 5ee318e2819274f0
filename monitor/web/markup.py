"""Text from data files shown inside Markdown: every character Markdown or HTML would act on is escaped, so a name
like `![t](http://host/p.png)` is shown as typed and makes no browser fetch anything."""

from __future__ import annotations

import re

_ACTIVE = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:&])")


def plain(value: object) -> str:
    """`value` as literal text for st.markdown, st.caption and the like."""
    return _ACTIVE.sub(r"\\\1", "" if value is None else str(value))
