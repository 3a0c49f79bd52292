"""What operators and their tools ask a running provider: is the process alive (``/healthz``),
can it serve requests (``/readyz``), and what has it done (``/metrics``, Prometheus).

These are machine endpoints: no session, cookie, CSRF token or page machinery is involved
(ciam/fastpath.py routes them through the back-channel handler).
"""
