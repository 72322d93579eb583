"""Counter hardware bridge: keypads, LED number boards and feedback units on serial lines.

``frames`` is the pure codec, ``serial_line`` one port and its devices, ``bridge``
the MQTT side, ``simulate`` stand-in hardware on a pty, ``cli`` the command line;
``firmware/`` holds the reference MicroPython firmware. See README.md.
"""
