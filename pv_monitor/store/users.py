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
SITE_SCOPED_ROLES = ("clinician",)
"""Roles that see only the subjects of their own sites (architecture.md: clinicians)."""


class UserError(ValueError):
    """A user cannot be created or found as asked."""


_DUMMY_HASH = f"scrypt${'00' * 16}${'00' * 64}"


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
    """Create a user with a role and (for clinicians) the sites they may see; audited.

    Raises
    ------
    UserError
        Unknown role, an existing name, or a clinician without a site (clinicians see only
        their sites' subjects, so a clinician without one could see nothing).
    """
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    sites = sorted(set(site_ids))
    if role in SITE_SCOPED_ROLES and not sites:
        raise UserError(f"a {role} needs at least one site (--site)")
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
    """The sites a user is assigned to."""
    query = select(AppUserSite.site_id).where(AppUserSite.app_user_id == user.app_user_id)
    return {int(s) for s in session.scalars(query)}


def site_scope(session: Session, user: AppUser) -> frozenset[int] | None:
    """The sites whose subjects ``user`` may see: ``None`` for every site (safety officers,
    data managers, admins), the assigned sites for clinicians (empty: none)."""
    if user.role not in SITE_SCOPED_ROLES:
        return None
    return frozenset(user_sites(session, user))


def authenticate(session: Session, username: str, password: str) -> AppUser | None:
    """The active user with this name and password, else ``None``.

    An unknown name costs the same scrypt work as a wrong password, so response times do not
    tell which names exist.
    """
    user = session.scalar(select(AppUser).where(AppUser.username == username))
    if user is None or not user.is_active:
        verify_password(password, _DUMMY_HASH)
        return None
    return user if verify_password(password, user.password_hash) else None


def assignable_users(session: Session, site_id: int, roles: Iterable[str]) -> list[str]:
    """Active users with one of ``roles`` who can see subjects of ``site_id`` (clinicians of
    that site, and the roles that see every site), by name."""
    wanted = tuple(roles)
    users = session.scalars(
        select(AppUser)
        .where(AppUser.is_active.is_(True), AppUser.role.in_(wanted))
        .order_by(AppUser.username)
    ).all()
    return [
        user.username
        for user in users
        if (scope := site_scope(session, user)) is None or site_id in scope
    ]
