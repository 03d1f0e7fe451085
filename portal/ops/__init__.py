"""Operators' commands (`flask portal ...`): doctor, provision, reconcile, worker; the Coder
admin token's expiry check."""
