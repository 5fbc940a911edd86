"""Who may do what: the hosting mode, visitors, roles, quotas and rate limits.

``local`` (the default) is one person on their own machine: every feature, no
quotas. ``public`` (``MORPH_MODE=public``) is a demo for anyone on the internet:
visitors are strangers identified by an unguessable key, see only their own
ratings and runs, cannot touch server paths or shared artefacts, and every
costly request has a quota. Admins (a secret, see :func:`check_secret`) keep
every feature. The library decides here; pages only hide what is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Literal

from morph_core import settings
from morph_core.errors import MorphCoreError

Role = Literal["visitor", "admin"]
KEY_PATTERN = r"[A-Za-z0-9_-]{22}"  # secrets.token_urlsafe(16)

# Actions only an admin may take in public mode (anyone may in local mode).
ADMIN_ACTIONS = {
    "prepare": "preparing or downloading datasets",
    "own_folder": "preparing a folder of images on the server",
    "weights_path": "starting from a weights file on the server",
    "recompute_umap": "recomputing the map",
    "see_all": "seeing everyone's ratings and runs",
    "clear": "clearing data",
    "run_workshop": "running a workshop",
    "apply_encoder": "applying a run that changed the encoder (it re-embeds "
    "every image in the web server)",
}


class Refused(MorphCoreError):
    """The visitor's role or quota does not allow this; the message says why."""


@dataclass(frozen=True)
class Visitor:
    """One person using the server: an unguessable ``key`` (their identity:
    stored with everything they do), a ``name`` shown beside it, a ``role``."""

    key: str
    name: str = ""
    role: Role = "visitor"

    @property
    def label(self) -> str:
        """What pages show: the name, with the key's start to tell namesakes apart."""
        return f"{self.name or 'visitor'} ({self.key[:4]})"


OPERATOR = Visitor("operator-local-cli-000", "operator", "admin")  # CLI, scripts


def new_key() -> str:
    """A fresh visitor key (128 random bits)."""
    return secrets.token_urlsafe(16)


def is_key(text: str | None) -> bool:
    """Whether ``text`` has the shape of a visitor key."""
    return bool(text) and re.fullmatch(KEY_PATTERN, text) is not None


@dataclass(frozen=True)
class Limits:
    """Quotas; ``None`` means unlimited."""

    runs_per_visitor: int | None  # queued + running at once
    queue_total: int | None  # queued runs of everyone
    labels_per_class: int
    sweep_runs: int | None
    upload_bytes: int
    upload_pixels: int
    upload_bits: int  # bits per channel
    requests_per_minute: int | None  # GP refits, searches, uploads, each


LOCAL_LIMITS = Limits(None, None, 5000, None, 20 * 2**20, 40_000_000, 16, None)
PUBLIC_LIMITS = Limits(3, 20, 200, 12, 5 * 2**20, 4_000_000, 8, 30)


@dataclass(frozen=True)
class Policy:
    """The rules of one hosting mode."""

    mode: Literal["local", "public"]

    @property
    def limits(self) -> Limits:
        return PUBLIC_LIMITS if self.mode == "public" else LOCAL_LIMITS

    @property
    def public(self) -> bool:
        return self.mode == "public"

    def allows(self, visitor: Visitor, action: str) -> bool:
        """Whether ``visitor`` may take one of :data:`ADMIN_ACTIONS`."""
        if action not in ADMIN_ACTIONS:
            raise ValueError(f"unknown action {action!r}")
        return not self.public or visitor.role == "admin"

    def require(self, visitor: Visitor, action: str) -> None:
        """Raise :class:`Refused` unless ``visitor`` may take ``action``."""
        if not self.allows(visitor, action):
            raise Refused(
                f"{ADMIN_ACTIONS[action].capitalize()} is not available on this "
                "public demo (admins only)."
            )

    def sees(self, visitor: Visitor, owner: str | None) -> bool:
        """Whether ``visitor`` may see and act on what ``owner`` made (a run, a
        rater's ratings); ``None``/empty owner: made by the operator, shared."""
        return self.allows(visitor, "see_all") or owner == visitor.key


def policy() -> Policy:
    """The server's policy, from :func:`morph_core.settings.mode`."""
    return Policy(settings.mode())


def without_paths(text: str) -> str:
    """``text`` with every absolute path cut to its last part (for visitors)."""
    return re.sub(r"(?:[A-Za-z]:)?(?:[/\\][^/\\\s:'\"]+)+", _last_part, str(text))


def _last_part(match: re.Match) -> str:
    return re.split(r"[/\\]", match.group(0))[-1]


# -- the admin secret ---------------------------------------------------------------

_ITERATIONS = 200_000


def hash_secret(secret: str, salt: str | None = None) -> str:
    """A storable hash of the admin secret (``pbkdf2_sha256$iterations$salt$hex``),
    for ``admin_secret_hash`` in ``.streamlit/secrets.toml``."""
    if len(secret) < 12:
        raise MorphCoreError("an admin secret needs at least 12 characters")
    salt = salt or secrets.token_hex(16)
    digest = hashlib.pbkdf2_hmac("sha256", secret.encode(), salt.encode(), _ITERATIONS)
    return f"pbkdf2_sha256${_ITERATIONS}${salt}${digest.hex()}"


def check_secret(given: str, stored: str | None) -> bool:
    """Whether ``given`` matches the stored hash (constant-time comparison)."""
    if not stored or not given:
        return False
    try:
        scheme, iterations, salt, expected = stored.split("$")
        rounds = int(iterations)
    except ValueError:
        return False
    if scheme != "pbkdf2_sha256":
        return False
    digest = hashlib.pbkdf2_hmac("sha256", given.encode(), salt.encode(), rounds)
    return hmac.compare_digest(digest.hex(), expected)


# -- rate limits --------------------------------------------------------------------


class RateLimiter:
    """At most ``per_minute`` requests per visitor and kind in any 60 s window
    (a sliding window; thread-safe: one instance serves every session)."""

    def __init__(self, per_minute: int | None):
        self.per_minute = per_minute
        self._times: dict[tuple[str, str], list[float]] = {}
        self._lock = threading.Lock()

    def check(self, visitor: Visitor, kind: str, now: float | None = None) -> None:
        """Count one request; raise :class:`Refused` when over the limit."""
        if self.per_minute is None or visitor.role == "admin":
            return
        now = time.monotonic() if now is None else now
        with self._lock:
            times = [
                t for t in self._times.get((visitor.key, kind), []) if now - t < 60
            ]
            if len(times) >= self.per_minute:
                wait = 60 - (now - times[0])
                raise Refused(
                    f"Too many {kind} requests: at most {self.per_minute} a minute "
                    f"on this public demo. Try again in {wait:.0f} s."
                )
            self._times[(visitor.key, kind)] = [*times, now]
