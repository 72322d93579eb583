"""The embedded MQTT broker (amqtt), so one command runs a whole centre.

It runs in a thread of its own with its own event loop: a slow database
commit on the web server's loop never stalls message delivery. Given the
centre's database it is locked down like the production Mosquitto: every
client logs in with its registry credentials and touches only the topics its
role allows (centre_server.mqtt.access), retained messages included; revocations
apply without a restart.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from collections.abc import Iterator
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


DEFAULT_MAX_PACKET = 262_144  # bytes; centre.toml [mqtt] max_packet_bytes


class PacketTooLarge(Exception):
    pass


def _huduma_broker_class() -> type:
    """amqtt's Broker with the guards it lacks: client ids bound to credentials, a packet size limit,
    and retained messages sent only to whom the topic rules let read them.

    Made on first use: amqtt is a server dependency only.
    """
    from amqtt.adapters import StreamReaderAdapter, StreamWriterAdapter
    from amqtt.broker import Broker
    from amqtt.contexts import Action
    from amqtt.errors import AMQTTError, MQTTError, NoDataError
    from amqtt.mqtt.connack import BAD_USERNAME_PASSWORD, IDENTIFIER_REJECTED, ConnackPacket
    from amqtt.mqtt.protocol.broker_handler import BrokerProtocolHandler
    from amqtt.utils import format_client_message, gen_client_id

    class LimitedReader(StreamReaderAdapter):
        """Refuses any single read over the limit before reading it: the sender is cut off unread."""

        def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, limit: int) -> None:
            super().__init__(reader)
            self._writer, self._limit, self._tripped = writer, limit, False

        async def read(self, n: int = -1) -> bytes:
            if self._tripped:
                return b""  # amqtt reads this as the end of the connection
            if n > self._limit:
                self._tripped = True
                peer = self._writer.get_extra_info("peername")
                logger.warning("MQTT client %s sent a %d-byte packet (limit %d): disconnected", peer, n, self._limit)
                self._writer.transport.abort()  # drop it unread: no buffer of its size is ever made
                return b""
            return await super().read(n)

    class HudumaBroker(Broker):
        def __init__(self, config: dict, *, loop: asyncio.AbstractEventLoop, max_packet: int,
                     connect_guard: Any = None) -> None:
            super().__init__(config, loop=loop)
            self._max_packet, self._connect_guard = max_packet, connect_guard
            # amqtt 0.12.1 walks its subscriptions with awaits inside the loop (a broadcast, a returning
            # client's retained messages): a client subscribing meanwhile raised "dictionary changed size during
            # iteration" and the message was lost for every subscriber (seen at a centre's restart, when every
            # device subscribes at once). Walks read a copy; every change still goes to the one dict.
            self._subscriptions = SubscriptionTable(self._subscriptions)  # type: ignore[has-type]

        async def stream_connected(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                                   listener_name: str) -> None:
            await self._client_connected(listener_name, LimitedReader(reader, writer, self._max_packet),
                                         StreamWriterAdapter(writer))

        async def _initialize_client_session(self, reader: Any, writer: Any, remote_address: str,
                                             remote_port: int) -> tuple[Any, Any]:
            """amqtt 0.12.1's own, with the guard between reading the CONNECT and touching any session.

            amqtt deletes (clean session) or updates (persistent session) the session of the
            CONNECT's client id before its authentication plugin is asked: a refused login
            would still have cut the id's owner off from its subscriptions.
            """
            where = format_client_message(address=remote_address, port=remote_port)
            try:
                handler, client_session = await BrokerProtocolHandler.init_from_connect(
                    reader, writer, self.plugins_manager)
            except AMQTTError as exc:
                raise AMQTTError(exc) from exc
            except MQTTError as exc:
                await writer.close()
                raise MQTTError(exc) from exc
            except NoDataError as exc:
                raise AMQTTError(exc) from exc
            if self._connect_guard is not None:
                refusal = self._connect_guard(client_session.username, client_session.password,
                                              client_session.client_id)
                if refusal:
                    logger.warning("MQTT connection from %s refused: %s", where, refusal)
                    code = BAD_USERNAME_PASSWORD if refusal == "bad credentials" else IDENTIFIER_REJECTED
                    await ConnackPacket.build(0, code).to_stream(writer)
                    await writer.close()
                    raise MQTTError(refusal)
            # from here on, amqtt's own code
            if client_session.clean_session:
                if client_session.client_id is not None and client_session.client_id != "":
                    await self._delete_session(client_session.client_id)
                else:
                    client_session.client_id = gen_client_id()
                client_session.parent = 0
            elif client_session.client_id in self._sessions:
                existing, _ = self._sessions[client_session.client_id]
                existing.will_flag = client_session.will_flag
                existing.will_message = client_session.will_message
                existing.will_topic = client_session.will_topic
                existing.will_qos = client_session.will_qos
                existing.keep_alive = client_session.keep_alive
                existing.username = client_session.username
                existing.password = client_session.password
                client_session = existing
                client_session.parent = 1
            else:
                client_session.parent = 0
            delay = self.config.get("timeout-disconnect-delay", 0)
            if client_session.keep_alive > 0 and isinstance(delay, int):
                client_session.keep_alive += delay
            return handler, client_session

        async def _publish_retained_messages_for_subscription(self, subscription: tuple[str, int],
                                                              session: Any) -> None:
            """amqtt 0.12.1's, sending only what the topic rules let this client read.

            amqtt calls it on every CONNECT for every subscription in the broker, anyone's (the
            server's ``huduma/{centre}/#`` included), and sends the retained messages that match
            without asking the topic plugins: a kiosk got every device's status. Here a filter
            counts only if it is the client's own subscription, and each retained message passes
            the same RECEIVE check as a live one, as Mosquitto checks its ACL per message.
            """
            topic_filter, qos = subscription
            granted = next((q for s, q in self._subscriptions.get(topic_filter, ())
                            if s.client_id == session.client_id), None)
            handler = self._get_handler(session)
            if granted is None or handler is None:
                return
            sends = []
            for topic, retained in list(self._retained_messages.items()):  # the checks below yield
                if not self._matches(topic, topic_filter):
                    continue
                if not await self._topic_filtering(session, topic=topic, action=Action.RECEIVE):
                    continue
                sends.append(asyncio.ensure_future(handler.mqtt_publish(
                    retained.topic, retained.data, min(qos, granted, retained.qos or qos), retain=True)))
            if sends:
                await asyncio.wait(sends)

        async def _publish_session_retained_messages(self, session: Any) -> None:
            """amqtt 0.12.1's, with each message kept for an offline session checked again on delivery.

            It was allowed when it was queued; the device's rights may have narrowed since.
            """
            handler = self._get_handler(session)
            if handler is None:
                return
            sends = []
            while not session.retained_messages.empty():
                retained = await session.retained_messages.get()
                if await self._topic_filtering(session, topic=retained.topic, action=Action.RECEIVE):
                    sends.append(asyncio.ensure_future(handler.mqtt_publish(
                        retained.topic, retained.data, retained.qos, retain=True)))
            if sends:
                await asyncio.wait(sends)

    return HudumaBroker


class SubscriptionTable(dict[str, Any]):
    """The broker's topic filter -> subscribers table, whose walks go over a copy (see ``HudumaBroker``)."""

    def __iter__(self) -> Iterator[Any]:
        return iter(list(super().keys()))

    def items(self) -> Any:
        return [(k, list(v)) for k, v in super().items()]


class EmbeddedBroker:
    """amqtt in a background thread; ``start()`` returns once it listens."""

    def __init__(self, host: str, port: int, plugins: dict[str, Any] | None = None, *,
                 db_path: Path | str | None = None, centre_id: str = "demo", server_username: str = "",
                 server_password: str = "", anonymous_read: bool = False,
                 max_packet_bytes: int = DEFAULT_MAX_PACKET) -> None:
        """With ``db_path``, only registered devices (and the server user named here) may connect,
        each with client ids of its own; no packet over ``max_packet_bytes`` is read."""
        self.host, self.port = host, port
        self.max_packet_bytes = max_packet_bytes
        self._guard: Any = None
        if db_path is not None and plugins is None:
            from centre_server.mqtt.access import embedded_plugins, shared_registry

            plugins = embedded_plugins(db_path, centre_id, server_username=server_username,
                                       server_password=server_password, anonymous_read=anonymous_read)

            def guard(username: str | None, password: str | None, client_id: str | None) -> str | None:
                registry = shared_registry(str(db_path), centre_id, 0.0, server_username, server_password,
                                           anonymous_read)
                return registry.connect_refusal(username, password, client_id)

            self._guard = guard
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
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        plugins = self.plugins or {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}}
        config = {"listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}",
                                            "max_connections": 2000}},
                  "plugins": plugins}
        try:
            self._broker = _huduma_broker_class()(config, loop=loop, max_packet=self.max_packet_bytes,
                                                  connect_guard=self._guard)
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
