"""What leaves the system as files: CSV exports, xlsx workbooks, bulletins; neutralised and audited."""
