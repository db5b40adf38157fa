"""Deciding where a request goes: candidates, the policy chain, shortlisting, cost and the
route. No I/O; each function is handed what it needs (catalogs, chain, state)."""
