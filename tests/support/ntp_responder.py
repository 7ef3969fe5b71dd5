"""A tiny NTP server for tests: answers real NTP packets with a chosen skew and stratum.

chronyd always serves its own, correct clock, so offsets beyond a few microseconds
and unsynchronised replies (stratum 16) come from this responder instead. It runs
in a thread on a free loopback UDP port and speaks RFC 5905 server mode (4)::

    with NtpResponder(skew=2.5) as server:          # 2.5 s ahead of this host
        ntplib.NTPClient().request("127.0.0.1", port=server.port)

    def test_x(ntp_responder):                       # the pytest fixture: a factory
        server = ntp_responder(skew=-0.3, stratum=16)

``skew`` and ``stratum`` may be changed while it runs; every reply uses the values
current when the request arrives.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from types import TracebackType

import pytest

__all__ = ["NtpResponder", "ntp_responder"]

NTP_EPOCH_OFFSET = 2208988800  # seconds from 1900-01-01 to 1970-01-01
_PACKET = struct.Struct("!BBbbII4sQQQQ")


def to_ntp(timestamp: float) -> int:
    """A Unix time as a 64-bit NTP timestamp (32.32 fixed point since 1900)."""
    return int((timestamp + NTP_EPOCH_OFFSET) * 2**32) & 0xFFFFFFFFFFFFFFFF


class NtpResponder:
    """An NTP server on 127.0.0.1 whose clock runs ``skew`` seconds from this host's."""

    def __init__(
        self,
        skew: float = 0.0,
        stratum: int = 2,
        leap: int | None = None,
        ref_id: bytes = b"GPS\x00",
        host: str = "127.0.0.1",
    ) -> None:
        self.skew = skew
        self.stratum = stratum
        #: leap indicator; None picks 3 (alarm) for stratum 16 and 0 otherwise, as servers do
        self.leap = leap
        self.ref_id = ref_id
        self.host = host
        self.requests = 0
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind((host, 0))
        self._sock.settimeout(0.2)
        self.port: int = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name=f"ntp-responder-{self.port}")

    @property
    def address(self) -> str:
        """``host:port`` as the ntp check's ``servers`` option takes it."""
        return f"{self.host}:{self.port}"

    def start(self) -> NtpResponder:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self._sock.close()

    def __enter__(self) -> NtpResponder:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def reply_to(self, request: bytes, received_at: float) -> bytes:
        """The server-mode answer to ``request`` received at host time ``received_at``."""
        version = (request[0] >> 3) & 0x7 or 4
        originate = struct.unpack("!Q", request[40:48])[0]
        leap = self.leap if self.leap is not None else (3 if self.stratum >= 16 else 0)
        now = time.time() + self.skew
        return _PACKET.pack(
            (leap << 6) | (version << 3) | 4,
            self.stratum,
            6,  # poll: 64 s
            -20,  # precision: about a microsecond
            0x00000100,  # root delay: 1/256 s
            0x00000100,  # root dispersion
            self.ref_id if self.stratum < 16 else b"INIT",
            to_ntp(now - 16),  # reference: last "set" 16 s ago
            originate,  # echo the client's transmit time, as RFC 5905 demands
            to_ntp(received_at + self.skew),
            to_ntp(now),
        )

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                request, client = self._sock.recvfrom(512)
            except TimeoutError:
                continue
            except OSError:
                return  # socket closed under us: stopping
            received_at = time.time()
            if len(request) < 48 or request[0] & 0x7 != 3:  # only client-mode packets
                continue
            self.requests += 1
            self._sock.sendto(self.reply_to(request, received_at), client)


@pytest.fixture
def ntp_responder() -> Iterator[Callable[..., NtpResponder]]:
    """A factory of running :class:`NtpResponder`s, all stopped when the test ends."""
    started: list[NtpResponder] = []

    def start(**kwargs: object) -> NtpResponder:
        responder = NtpResponder(**kwargs).start()  # type: ignore[arg-type]
        started.append(responder)
        return responder

    yield start
    for responder in started:
        responder.stop()
