"""Tables on the pages: st.dataframe without the table's own way out. Streamlit's toolbar offers a CSV download
(and the grid a clipboard copy) of whatever a table shows, unaudited and with formula cells as they are; the app's
only ways out are the audited, neutralising downloads of monitor.outputs.release (ui.audited_download).

Streamlit 1.67 has no per-table switch: the config option `client.disableDataExport` hides the CSV download of
every st.dataframe, st.data_editor and chart table view, and turns off the copy of read-only tables. It is sent to
the browser when a script run starts, so it is set here before any table is drawn (and by the sign-in page, which
every session runs before it sees a table); .streamlit/config.toml should set it too."""

from __future__ import annotations

from typing import Any

import streamlit as st

NO_EXPORT = "client.disableDataExport"


def no_export() -> None:
    """Hide the built-in CSV download and copy of every table (process-wide, from the next script run on)."""
    if not st.get_option(NO_EXPORT):
        st.set_option(NO_EXPORT, True)


def show(data: Any, where: Any = None, **kwargs: Any) -> Any:
    """st.dataframe(data, **kwargs) — in `where` (a column, tab or other container) when given — with the table's
    own export turned off. Returns what st.dataframe does (the selection when on_select is given)."""
    no_export()
    return (where if where is not None else st).dataframe(data, **kwargs)
