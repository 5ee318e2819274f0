"""The application database and the columnar copies beside it: schema, reads and writes, read-only queries."""
