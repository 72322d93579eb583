"""The centre's MQTT side: the server's link to the broker, the embedded broker and its access rules."""
