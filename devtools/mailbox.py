"""A real SMTP server for local runs and tests (aiosmtpd), keeping every message it
receives as a `.eml` file in a folder: what `make dev` sends invites and password
resets to. `index.html` in the same folder lists the messages, newest first, with
their links clickable, so a person follows an invite in a browser."""

from __future__ import annotations

import email
import email.policy
import re
import socket
import time
from dataclasses import dataclass
from email.message import EmailMessage
from html import escape
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller


class KeepMessages:
    """An aiosmtpd handler: every message received is kept as a `.eml` file in `folder`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.folder.mkdir(parents=True, exist_ok=True)
        name = f"{time.time_ns()}.eml"
        (self.folder / name).write_bytes(envelope.original_content or envelope.content)
        write_index(self.folder)
        return "250 Message accepted for delivery"


_LINK = re.compile(r"https?://[^\s<>\"']+")


def write_index(folder: Path) -> Path:
    """`index.html`: every message, newest first, its links clickable."""
    items = []
    for path in sorted(folder.glob("*.eml"), reverse=True):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        body = message.get_body(preferencelist=("plain",))
        text = body.get_content() if body is not None else ""
        shown = _linked(text)
        items.append(
            f"<article><h2>{escape(str(message['Subject']))}</h2>"
            f"<p>To {escape(str(message['To']))} &middot; <a href='{path.name}'>{path.name}</a></p>"
            f"<pre>{shown}</pre></article>"
        )
    page = folder / "index.html"
    page.write_text(
        "<!doctype html><html lang=en><meta charset=utf-8><title>Local mail</title>"
        "<h1>Local mail (make dev)</h1>" + ("".join(items) or "<p>No mail yet.</p>")
    )
    return page


@dataclass
class Mailbox:
    folder: Path
    port: int
    _controller: Controller

    @property
    def smtp_url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def messages(self) -> list[EmailMessage]:
        """What arrived so far, oldest first."""
        found = []
        for path in sorted(self.folder.glob("*.eml")):
            message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
            assert isinstance(message, EmailMessage)
            found.append(message)
        return found

    def wait_for(self, count: int, timeout: float = 5.0) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout
        while len(found := self.messages()) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return found

    def stop(self) -> None:
        self._controller.stop()


def start_mailbox(folder: Path, port: int = 0) -> Mailbox:
    if port == 0:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
    controller = Controller(KeepMessages(folder), hostname="127.0.0.1", port=port)
    controller.start()
    return Mailbox(folder, port, controller)


def _linked(text: str) -> str:
    """`text` escaped for HTML, its URLs as links."""
    parts, at = [], 0
    for found in _LINK.finditer(text):
        url = found.group(0)
        parts += [escape(text[at : found.start()]), f"<a href='{escape(url)}'>{escape(url)}</a>"]
        at = found.end()
    return "".join([*parts, escape(text[at:])])
