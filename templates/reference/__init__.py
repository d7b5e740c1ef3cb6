"""The deterministic reference runtime shipped with canary-matrix.

A small rule-based agent behind a2a-sdk's JSON-RPC server that implements the
whole runtime contract of DESIGN §3. Its answers come only from what it really
stored (its session store, the platform's memories) and read (uploaded files),
so losing any of those makes it fail the canary, as a real agent would.
"""
