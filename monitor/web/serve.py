"""Start the Streamlit server with app.py's st.navigation in charge from the very first request.

Streamlit treats a `pages/` folder beside the entry script as its legacy multipage mode until
`st.navigation` has run once in the process: the first deep link after a start then shows a
spurious "Page not found" or, for a link named like a page file, runs that file without app.py.
Declaring the legacy mode off before the server starts removes both.
"""

from __future__ import annotations

import sys

from monitor.config import PROJECT_ROOT

APP = PROJECT_ROOT / "app.py"


def main(argv: list[str] | None = None) -> None:
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.web import cli

    PagesManager.uses_pages_directory = False
    sys.argv = ["streamlit", "run", str(APP), *(sys.argv[1:] if argv is None else argv)]
    cli.main()


if __name__ == "__main__":
    main()
