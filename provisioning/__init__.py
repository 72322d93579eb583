"""The technician's tool (``huduma-provision``): set up a centre directory and keep it.

One module per part of the centre, each usable from Python as well as the CLI:

- ``directory``: opening a centre directory, the tool's errors, the audit actor
- ``centre``: ``init``, ``show`` and the audit log
- ``services`` and ``counters``: the menu and the hall
- ``devices`` and ``bundles``: enrolling kiosks, displays and bridges, and what each is handed
- ``staff``: staff accounts
- ``broker``: the server's broker user and the Mosquitto files
- ``settings_file``: editing centre.toml in place
- ``cli``: the click commands over all of these

What they read and write in centre.db goes through ``centre_server.store``.
"""
