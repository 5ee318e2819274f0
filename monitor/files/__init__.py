"""Input files: sources declared by SPEC §3, finding and reading them (encodings, xlsx, aliases), uploads."""
