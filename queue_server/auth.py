"""Who may do what: passwords, session tokens, device tokens, ticket tokens, rate limits.

* Clerks, managers and planners log in with a password, stored only as a scrypt hash
  (``hallq hash-password``), and get a signed session token that expires after
  ``auth.session_minutes``.
* Kiosks, displays and rating pads carry a device token derived from the
  deployment secret (``hallq device-token ID``); nothing per device is stored.
* A citizen gets a ticket token with the ticket; it lets them cancel it or rate
  the service, and nobody else can.

The secret comes from ``HALLQ_SECRET`` or, failing that, ``<data_dir>/secret.key``
(created once, mode 0600). Every worker and machine of a deployment must share it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

from .clock import Clock, SystemClock
from .config import Deployment

ROLES = ("manager", "clerk", "planner", "kiosk", "display", "pad", "citizen")
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
VERIFIED_SESSIONS = 4096  # verified session tokens remembered per process


def hash_password(password: str, salt: bytes | None = None) -> str:
    """``scrypt$<n>$<r>$<p>$<salt>$<hash>`` (scrypt from the standard library)."""
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    b64 = base64.urlsafe_b64encode
    return f"scrypt${_SCRYPT['n']}${_SCRYPT['r']}${_SCRYPT['p']}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        _, n, r, p, salt, digest = stored.split("$")
        expected = base64.urlsafe_b64decode(digest)
        got = hashlib.scrypt(
            password.encode(), salt=base64.urlsafe_b64decode(salt), n=int(n), r=int(r), p=int(p), dklen=32
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(expected, got)


def tokens_equal(expected: str, given: str) -> bool:
    """Constant-time comparison of two tokens; any text (also non-ASCII) is simply unequal, never an error."""
    return hmac.compare_digest(expected.encode("utf-8", "surrogatepass"), given.encode("utf-8", "surrogatepass"))


def load_secret(data_dir: str | Path) -> bytes:
    env = os.environ.get("HALLQ_SECRET")
    if env:
        return env.encode()
    path = Path(data_dir) / "secret.key"
    if path.exists():
        return path.read_bytes().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(32).encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key + b"\n")
    return key


@dataclass(frozen=True)
class Principal:
    """The caller of a request: a role, an id, and the hall it belongs to (None = every hall)."""

    role: str
    id: str
    hall: str | None = None
    window: int | None = None

    @property
    def actor(self) -> str:
        return f"{self.role}:{self.id}" if self.role != "citizen" else "citizen"


CITIZEN = Principal("citizen", "anonymous")


def _signer_on(clock: Clock) -> type[TimestampSigner]:
    """itsdangerous's timestamp signer, reading the deployment's clock instead of ``time.time()``."""

    class HallClockSigner(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(clock.now())

    return HallClockSigner


class Authority:
    """Issues and checks every kind of token of one deployment.

    Session age is measured on ``clock``, the deployment's clock (the one its halls run on):
    the signed timestamp, the ``session_minutes`` limit and the cache of verified tokens all
    read it, so a session expires when the hall's clock says so, on every worker alike.
    """

    def __init__(self, deployment: Deployment, secret: bytes, clock: Clock | None = None) -> None:
        self.deployment = deployment
        self._secret = secret
        self.clock = clock or SystemClock()
        self._sessions = URLSafeTimedSerializer(secret, salt="hallq-session", signer=_signer_on(self.clock))
        self.session_seconds = deployment.auth.session_minutes * 60
        # Session tokens already verified: token -> (principal, expiry). Checking a
        # signature costs ~40 µs, a tenth of a ticket issue; tokens are immutable, so
        # the answer only changes when the token expires.
        self._verified: dict[str, tuple[Principal, float]] = {}

    # -- devices and tickets: derived tokens, nothing stored

    def _derive(self, purpose: str, value: str, length: int = 32) -> str:
        mac = hmac.new(self._secret, f"{purpose}:{value}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")[:length]

    def device_token(self, device_id: str) -> str:
        return f"dev.{device_id}.{self._derive('device', device_id)}"

    def ticket_token(self, hall: str, ticket_id: str) -> str:
        return self._derive("ticket", f"{hall}/{ticket_id}", 16)

    def check_ticket_token(self, hall: str, ticket_id: str, token: str) -> bool:
        return tokens_equal(self.ticket_token(hall, ticket_id), token)

    def phone_key(self, phone: str) -> str:
        """A keyed hash of a phone number, for per-phone limits without keeping the number."""
        return self._derive("phone", phone, 24)

    def person_key(self, id_number: str) -> str:
        """A keyed hash of a (checked, upper-cased) ID number: bookings keep only this."""
        return self._derive("person", id_number, 32)

    def booking_token(self, hall: str, code: str) -> str:
        """Lets whoever booked view or cancel the booking."""
        return self._derive("booking", f"{hall}/{code}", 16)

    # -- sessions

    def login(self, user_id: str, password: str, hall: str | None) -> tuple[str, Principal] | None:
        for user in self.deployment.auth.users:
            if user.id != user_id or not verify_password(password, user.password_hash):
                continue
            user_hall = user.hall or (self.deployment.halls[0].id if user.role == "clerk" else None)
            if hall is not None and user_hall is not None and hall != user_hall:
                continue
            principal = Principal(user.role, user.id, user_hall)
            token = self._sessions.dumps({"r": user.role, "i": user.id, "h": user_hall})
            return token, principal
        return None

    def principal(self, token: str | None) -> Principal | None:
        """The principal a bearer token stands for, or None when it is missing, forged or expired.

        Every token this deployment issues is ASCII; anything else (e.g. header bytes that are
        not UTF-8, read by the server as Latin-1) is simply a bad token, never an error.
        """
        if not token or not token.isascii():
            return None
        if token.startswith("dev."):
            _, device_id, _mac = [*token.split(".", 2), "", ""][:3]
            if not tokens_equal(self.device_token(device_id), token):
                return None
            for device in self.deployment.auth.devices:
                if device.id == device_id:
                    return Principal(device.role, device.id, device.hall, device.window)
            return None
        cached = self._verified.get(token)
        if cached is not None:
            if self.clock.now() < cached[1]:
                return cached[0]
            del self._verified[token]
        try:
            data, signed = self._sessions.loads(token, max_age=self.session_seconds, return_timestamp=True)
        except (SignatureExpired, BadSignature):
            return None
        principal = Principal(data["r"], data["i"], data["h"])
        if len(self._verified) >= VERIFIED_SESSIONS:
            self._verified.clear()
        self._verified[token] = (principal, signed.timestamp() + self.session_seconds)
        return principal
