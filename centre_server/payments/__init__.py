"""The payments room (issue 20): a ticket's fee paid by M-Pesa Express while the citizen waits.

* ``settings.py``: ``[payments]`` in centre.toml (the centre's own Daraja account: see README).
* ``daraja.py``: Daraja's OAuth (token cached until it expires), STK push and STK query.
* ``core.py``: ``Payments``: start a prompt (the amount is always the catalogue's fee), take the
  callback, settle late ones by query, record cash or a waiver; what every channel calls.
* ``extension.py``: the server's part (the settler thread) and ``attached(centre)`` for in-process callers.

Why a table and an event: the pending request (checkout id, callback token, amount, phone, account)
is money in flight and must survive a restart between the push and the callback, so it is a row of
``payments``, on disk before the push leaves. Each change of state is then an engine command
(``RecordPayment`` -> ``payment_updated``) so it is in the event log and every listener hears it as it
hears a call: the live hub (the clerk's terminal, the citizen's page) and MQTT. The queue's rules
ignore payment: an unpaid citizen is still called, and pays at the counter.

Sits below channels (the USSD code starts payments in-process) and above runtime and store.
"""
