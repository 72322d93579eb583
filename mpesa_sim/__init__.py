"""``huduma-mpesa-sim``: Safaricom Daraja's M-Pesa Express, simulated over HTTP for demos and tests.

It speaks Daraja's own shapes (``centre_server.contract.payments``): the OAuth token, the STK push,
the asynchronous callback ``Body.stkCallback`` and the STK query. See ``app.py`` for the results and
the control endpoint.
"""
