"""The pure queue: the engine's rules, the wait estimator and the centre's hours.

Imports nothing of the server but the contract."""
