"""The embedded MQTT broker (amqtt), so one command runs a whole centre.

It runs in a thread of its own with its own event loop: a slow database
commit on the web server's loop never stalls message delivery. Given the
centre's database it is locked down like the production Mosquitto: every
client logs in with its registry credentials and touches only the topics its
role allows (centre_server.broker_auth); revocations apply without a restart.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)


class BrokerStartError(RuntimeError):
    pass


def port_is_taken(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1" if host in ("0.0.0.0", "") else host, port)) == 0


def speaks_mqtt(host: str, port: int, timeout: float = 3.0) -> bool:
    """Whether whatever listens there answers an MQTT CONNECT with a CONNACK."""
    connect = bytes([0x10, 12, 0, 4]) + b"MQTT" + bytes([4, 2, 0, 10, 0, 0])
    try:
        with socket.create_connection(("127.0.0.1" if host in ("0.0.0.0", "") else host, port), timeout) as s:
            s.sendall(connect)
            reply = s.recv(4)
            return len(reply) >= 2 and reply[0] == 0x20
    except OSError:
        return False


class EmbeddedBroker:
    """amqtt in a background thread; ``start()`` returns once it listens."""

    def __init__(self, host: str, port: int, plugins: dict[str, Any] | None = None, *,
                 db_path: Path | str | None = None, centre_id: str = "demo", server_username: str = "",
                 server_password: str = "", anonymous_read: bool = False) -> None:
        """With ``db_path``, only registered devices (and the server user named here) may connect."""
        self.host, self.port = host, port
        if db_path is not None and plugins is None:
            from centre_server.broker_auth import embedded_plugins

            plugins = embedded_plugins(db_path, centre_id, server_username=server_username,
                                       server_password=server_password, anonymous_read=anonymous_read)
        self.plugins = plugins
        self.locked = db_path is not None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._broker: Any = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"mqtt://{host}:{self.port}"

    def start(self, timeout: float = 15.0) -> None:
        self._thread = threading.Thread(target=self._run, name="embedded-broker", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise BrokerStartError(f"embedded broker did not start on {self.host}:{self.port}")
        if self._error:
            raise BrokerStartError(f"embedded broker failed on {self.host}:{self.port}: {self._error}")
        logger.info("embedded MQTT broker listening on %s:%s", self.host, self.port)

    def _run(self) -> None:
        from amqtt.broker import Broker

        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        plugins = self.plugins or {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}}
        config = {"listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}",
                                            "max_connections": 2000}},
                  "plugins": plugins}
        try:
            self._broker = Broker(config, loop=loop)
            loop.run_until_complete(self._broker.start())
        except BaseException as err:  # reported to start()
            self._error = err
            self._ready.set()
            return
        self._ready.set()
        loop.run_forever()

    def stop(self) -> None:
        if self._loop is None or self._broker is None:
            return
        fut = asyncio.run_coroutine_threadsafe(self._broker.shutdown(), self._loop)
        try:
            fut.result(10)
        except Exception:
            logger.warning("embedded broker did not shut down cleanly", exc_info=True)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread:
            self._thread.join(5)
