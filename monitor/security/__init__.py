"""Accounts, passwords, sessions, the second factor, the security policy, roles and masking, the audit log."""
