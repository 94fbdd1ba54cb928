"""A real SMTP server for the worker tests (aiosmtpd on 127.0.0.1), which keeps what reaches
it and can be made slow or made to refuse."""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import threading
import time
from collections.abc import Callable
from email.message import EmailMessage
from typing import Any, cast


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Inbox:
    """The server's handler. ``received`` holds every message whose data reached the server,
    recorded before it answers: one still being answered when its sender dies counts too."""

    def __init__(self) -> None:
        self.received: list[EmailMessage] = []
        self.delay = 0.0  # seconds before answering each message
        self.temporary_failures = 0  # how many of the next messages to answer with 451
        self.refused = 0
        self.refuse_recipients: str | None = None  # an answer to every RCPT TO, e.g. "550 ..."
        self.port = 0
        self._lock = threading.Lock()

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if self.refuse_recipients:
            return self.refuse_recipients
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self._lock:
            if self.temporary_failures > 0:
                self.temporary_failures -= 1
                self.refused += 1
                return "451 4.3.0 Try again later"
            message = email.message_from_bytes(envelope.content, policy=email.policy.default)
            self.received.append(cast(EmailMessage, message))
        if self.delay:
            await asyncio.sleep(self.delay)
        return "250 2.0.0 Accepted"

    def message_ids(self) -> list[str]:
        with self._lock:
            return [str(message["Message-ID"]) for message in self.received]


def wait_for(condition: Callable[[], bool], timeout: float = 30, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what or condition}"
        time.sleep(0.02)
