"""The rules of SPEC §2 and §4–§9, pure: tables in, tables out; no storage, no web, no security."""
