"""The national service catalogue at a centre: fetching the newest version from headquarters, a manager's
offerings (not offered here, suspended, offered again), and telling headquarters what the centre runs.

The catalogue's tables are in ``store.catalogue``; what the centre runs and the overlay
on its menu in ``runtime`` (``Centre.apply_catalogue``, ``runtime.national``).
"""
