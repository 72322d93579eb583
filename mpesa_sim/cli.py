"""``huduma-mpesa-sim``: run the simulated Daraja on a port (``make run`` starts it beside the server)."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time

import click

from mpesa_sim.app import Simulator, create_app

logger = logging.getLogger(__name__)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Bind address (keep it on this machine).")
@click.option("--port", default=8099, show_default=True, type=int)
@click.option("--consumer-key", default="", help="Accept only this key (empty: any non-empty key).")
@click.option("--consumer-secret", default="")
@click.option("--passkey", default="", help="Check each Password against this passkey (empty: not checked).")
@click.option("--delay", "delay_s", default=4.0, show_default=True, type=float,
              help="Seconds before the citizen 'answers' the prompt.")
@click.option("--timeout", "timeout_s", default=20.0, show_default=True, type=float,
              help="Seconds before a 1037 (phone unreachable) result is reported.")
@click.option("--lose-callbacks", is_flag=True, help="Never send callbacks (only the STK query tells).")
@click.option("--duplicate-callbacks", is_flag=True, help="Send every callback twice.")
@click.option("--exit-with-parent", is_flag=True,
              help="Stop when the process that started it ends, even by kill -9 (make run uses it).")
def main(host: str, port: int, consumer_key: str, consumer_secret: str, passkey: str, delay_s: float,
         timeout_s: float, lose_callbacks: bool, duplicate_callbacks: bool, exit_with_parent: bool) -> None:
    """Simulate Safaricom Daraja's M-Pesa Express (OAuth, STK push, callback, STK query).

    The phone's last digit chooses the result: 1 insufficient balance, 2 cancelled (1032),
    3 unreachable (1037), 4 wrong PIN (2001), others success. POST /sim/control changes it.
    """
    import uvicorn

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if exit_with_parent:
        _follow_parent()
    sim = Simulator(consumer_key, consumer_secret, passkey, delay_s, timeout_s, lose_callbacks, duplicate_callbacks)
    uvicorn.run(create_app(sim), host=host, port=port, log_level="info")


def _follow_parent(every_s: float = 1.0) -> None:
    """Stop (SIGTERM to itself: uvicorn shuts down cleanly) once its parent is gone. A shell's ``trap`` never
    runs after kill -9, and a simulator left behind holds port 8099 against the next ``make run``."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(every_s)
        logger.info("the process that started the simulator (pid %s) has ended: stopping", parent)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="follow-parent", daemon=True).start()
