"""SQLAlchemy models of the client area: tables, constraints and indexes, no rules."""

from models.accounts import AccountStatus, ClientAccount, Membership, MembershipRole
from models.audit import AuditEvent
from models.auth import ApiToken, ApiTokenAccount, Session
from models.base import Base
from models.catalogue import (
    BillingCycle,
    ConfigurableOption,
    OptionChoice,
    OptionChoicePrice,
    Product,
    ProductPrice,
    ProductType,
)
from models.invitations import Invitation, InvitationState, PasswordResetToken
from models.outbox import EmailStatus, OutboxEmail
from models.permissions import Permission
from models.ratelimits import RateLimitHit
from models.users import User

__all__ = [
    "AccountStatus",
    "ApiToken",
    "ApiTokenAccount",
    "AuditEvent",
    "Base",
    "BillingCycle",
    "ClientAccount",
    "ConfigurableOption",
    "EmailStatus",
    "Invitation",
    "InvitationState",
    "Membership",
    "MembershipRole",
    "OptionChoice",
    "OptionChoicePrice",
    "OutboxEmail",
    "PasswordResetToken",
    "Permission",
    "Product",
    "ProductPrice",
    "ProductType",
    "RateLimitHit",
    "Session",
    "User",
]
