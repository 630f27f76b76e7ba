"""Users, roles and site scope (passwords kept only as salted scrypt hashes).

Examples
--------
>>> digest = hash_password("correct horse")
>>> digest.startswith("scrypt$"), verify_password("correct horse", digest)
(True, True)
>>> verify_password("wrong", digest)
False
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from pv_monitor.store.audit import record_change
from pv_monitor.store.models import AppUser, AppUserSite
from pv_monitor.vocabulary import ROLES

_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


class UserError(ValueError):
    """A user cannot be created or found as asked."""


def hash_password(password: str) -> str:
    """``scrypt$<salt hex>$<hash hex>`` (OWASP-recommended memory-hard hash, stdlib)."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, **_SCRYPT)
    return f"scrypt${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches a hash made by :func:`hash_password` (constant time)."""
    try:
        kind, salt, expected = stored.split("$")
    except ValueError:
        return False
    if kind != "scrypt":
        return False
    digest = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), **_SCRYPT)
    return hmac.compare_digest(digest.hex(), expected)


def add_user(
    session: Session,
    username: str,
    role: str,
    password: str,
    *,
    actor: str,
    display_name: str | None = None,
    site_ids: Iterable[int] = (),
) -> AppUser:
    """Create a user with a role and (for clinicians) the sites they may see; audited."""
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    if session.scalar(select(AppUser).where(AppUser.username == username)) is not None:
        raise UserError(f"user {username!r} exists")
    user = AppUser(
        username=username,
        display_name=display_name,
        role=role,
        password_hash=hash_password(password),
        is_active=True,
        created_at=datetime.now(UTC),
    )
    session.add(user)
    session.flush()
    sites = sorted(set(site_ids))
    session.add_all(AppUserSite(app_user_id=user.app_user_id, site_id=s) for s in sites)
    record_change(
        session,
        actor=actor,
        action="create",
        table="app_user",
        key=str(user.app_user_id),
        new={"username": username, "role": role, "sites": sites},
        reason="user added",
    )
    return user


def find_user(session: Session, username: str) -> AppUser:
    """The active user called ``username``."""
    user = session.scalar(select(AppUser).where(AppUser.username == username))
    if user is None or not user.is_active:
        raise UserError(f"no active user {username!r}")
    return user


def user_sites(session: Session, user: AppUser) -> set[int]:
    """The sites a user is limited to (empty: not limited)."""
    query = select(AppUserSite.site_id).where(AppUserSite.app_user_id == user.app_user_id)
    return {int(s) for s in session.scalars(query)}
