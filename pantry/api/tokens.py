"""Signed pair tokens: what POST /pairs showed, so that POST /votes can trust it.

A token is `base64url(JSON payload) "." base64url(HMAC-SHA256(key, payload))`. The payload
holds the profile, the two recipe ids (stored order), which one was on the left, the pantry,
the model and generator that made the pair and the time it was issued. Any server that
shares the database folder can check it, because the key comes from there:

- with `PANTRY_API_TOKEN` set, the key is derived from it (HMAC of a fixed label), so every
  server with the same token accepts the others' pair tokens;
- otherwise it is a random 32-byte key in `PANTRY_HOME/api_secret.key`, created once,
  atomically (a temp file with mode 0600, then a hard link that fails if another process
  got there first, in which case that process's key is used).

Signatures are compared with `hmac.compare_digest`. Tokens expire after `TOKEN_TTL_S`; one
issued more than `MAX_CLOCK_SKEW_S` in the future (a forged time, or a server whose clock runs
far ahead) is refused. That a token is spent once does not depend on clocks at all: POST /votes
stores the vote under `spend_key(payload)` (the digest of the signed payload, with its random
nonce), a UNIQUE column of the votes table (`Store.add_vote(request_key=...)`).

Profile tokens (`profile_token`): `pp1.<base64url name>.<base64url HMAC-SHA256>`, the HMAC keyed
by `PANTRY_API_TOKEN` (the admin token) over the profile's `user_key`, so any server with the
admin token checks them without a database, and `python -m pantry token --profile NAME` prints
one. A profile token reaches only that profile's data (see `pantry.api.app`); rotating the
admin token revokes every profile token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from pathlib import Path
from typing import Any

from pantry.errors import InvalidInput

TOKEN_TTL_S = 24 * 3600  # a pair may be voted on for a day after it was shown
MAX_CLOCK_SKEW_S = 300  # a token "issued" further in the future than this is refused
PROFILE_TOKEN_PREFIX = "pp1"
_PROFILE_LABEL = b"pantrypilot profile token v1\x00"
KEY_FILE = "api_secret.key"
KEY_BYTES = 32
_DERIVE_LABEL = b"pantrypilot pair token v1"


class InvalidToken(InvalidInput):
    """A pair token that is malformed, tampered with, signed by another key, or expired."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def key_from_file(home: Path) -> bytes:
    """The key in `home/api_secret.key`, created (0600, atomically) when missing."""
    path = Path(home) / KEY_FILE
    try:
        key = path.read_bytes()
        if len(key) >= KEY_BYTES:
            return key
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(secrets.token_bytes(KEY_BYTES))
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)  # fails if another process created the key first: use theirs
        except FileExistsError:
            pass
    finally:
        tmp.unlink(missing_ok=True)
    return path.read_bytes()


def signing_key(home: Path, api_token: str = "") -> bytes:
    """The key for pair tokens: derived from the API token when set, else the home's key file."""
    if api_token:
        return hmac.new(api_token.encode("utf-8"), _DERIVE_LABEL, hashlib.sha256).digest()
    return key_from_file(home)


def sign(key: bytes, payload: dict[str, Any]) -> str:
    """A signed token for `payload` (+ its issue time `iat` and a random nonce `n`, so two pairs
    issued in the same second never share a spend key)."""
    body = json.dumps({"n": secrets.token_hex(8), **payload, "iat": int(payload.get("iat") or time.time())},
                      separators=(",", ":"), ensure_ascii=False, sort_keys=True).encode("utf-8")
    mac = hmac.new(key, body, hashlib.sha256).digest()
    return f"{_b64(body)}.{_b64(mac)}"


def verify(key: bytes, token: str, now: float | None = None, ttl: float = TOKEN_TTL_S) -> dict[str, Any]:
    """The payload of a valid token, or InvalidToken saying what is wrong (field 'pair_token')."""
    if not isinstance(token, str) or token.count(".") != 1:
        raise InvalidToken("field 'pair_token' is not a pair token from POST /pairs")
    body_text, mac_text = token.split(".")
    try:
        body, mac = _unb64(body_text), _unb64(mac_text)
    except (ValueError, TypeError):
        raise InvalidToken("field 'pair_token' is not a pair token from POST /pairs") from None
    if not hmac.compare_digest(hmac.new(key, body, hashlib.sha256).digest(), mac):
        raise InvalidToken("field 'pair_token' has a bad signature (changed, or issued by another server "
                           "that does not share this database or API token)")
    try:
        payload = json.loads(body)
    except ValueError:
        raise InvalidToken("field 'pair_token' is not a pair token from POST /pairs") from None
    issued = payload.get("iat") if isinstance(payload, dict) else None
    now = now or time.time()
    if not isinstance(issued, int) or isinstance(issued, bool) or (now - issued) > ttl:
        raise InvalidToken(f"field 'pair_token' has expired (pairs can be voted on for {ttl / 3600:g} h): "
                           "ask POST /pairs for a new pair")
    if issued - now > MAX_CLOCK_SKEW_S:
        raise InvalidToken("field 'pair_token' was issued in the future (check the servers' clocks): "
                           "ask POST /pairs for a new pair")
    payload["_spend_key"] = "pair:" + hashlib.sha256(body).hexdigest()
    return payload


def spend_key(payload: dict[str, Any]) -> str:
    """The key a verified token's vote is stored under (UNIQUE in the votes table): the digest
    of the exact signed bytes, so each token stores at most one vote."""
    return payload["_spend_key"]


def profile_token(admin_token: str, profile: str) -> str:
    """A bearer token that reaches only `profile`'s data, derived from the admin token."""
    from pantry.domain.votes import user_key, validate_user_name

    if not admin_token:
        raise InvalidInput("profile tokens need PANTRY_API_TOKEN (the admin token) to be set")
    name = validate_user_name(profile)
    mac = hmac.new(admin_token.encode("utf-8"), _PROFILE_LABEL + user_key(name).encode("utf-8"),
                   hashlib.sha256).digest()
    return f"{PROFILE_TOKEN_PREFIX}.{_b64(name.encode('utf-8'))}.{_b64(mac)}"


def profile_of_token(admin_token: str, token: str) -> str | None:
    """The profile a valid profile token is for, or None (not one, or not signed by this admin token)."""
    if not admin_token or not token.startswith(PROFILE_TOKEN_PREFIX + ".") or token.count(".") != 2:
        return None
    try:
        name = _unb64(token.split(".")[1]).decode("utf-8")
        expected = profile_token(admin_token, name)
    except (ValueError, TypeError, InvalidInput):
        return None
    return name if hmac.compare_digest(expected.encode("utf-8"), token.encode("utf-8")) else None
