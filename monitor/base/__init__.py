"""Helpers with no domain knowledge that every layer may use: text folding and Arrow kernels over text columns."""
