"""Query functions behind each page: read stored results, shape them for display; no Streamlit, no rules."""
