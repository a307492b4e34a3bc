"""SQLAlchemy models of the client area: tables, constraints and indexes, no rules."""

from models.accounts import AccountStatus, ClientAccount, Membership, MembershipRole
from models.audit import AuditEvent
from models.auth import ApiToken, ApiTokenAccount, Session
from models.base import Base
from models.permissions import Permission
from models.users import User

__all__ = [
    "AccountStatus",
    "ApiToken",
    "ApiTokenAccount",
    "AuditEvent",
    "Base",
    "ClientAccount",
    "Membership",
    "MembershipRole",
    "Permission",
    "Session",
    "User",
]
