"""SQLAlchemy models of the client area: tables, constraints and indexes, no rules."""

from models.accounts import AccountStatus, ClientAccount, Membership, MembershipRole
from models.affiliates import Affiliate, AffiliateCommission, CommissionStatus
from models.audit import AuditEvent
from models.base import Base
from models.billing import (
    IdempotencyKey,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    InvoiceTax,
    NumberSequence,
    Order,
    OrderItem,
    OrderStatus,
)
from models.catalogue import (
    BillingCycle,
    ConfigurableOption,
    OptionChoice,
    OptionChoicePrice,
    Product,
    ProductPrice,
    ProductType,
)
from models.contacts import Contact
from models.email_verification import EmailVerificationToken
from models.hosting import CancellationType, Domain, DomainStatus, Service, ServiceStatus
from models.identity import ApiToken, ApiTokenAccount, Session
from models.invitations import Invitation, InvitationState, PasswordResetToken
from models.outbox import EmailStatus, OutboxEmail
from models.password_resets import PasswordResetRequest
from models.permissions import Permission
from models.persisted_documents import PersistedDocument
from models.ratelimits import RateLimitHit
from models.scopes import (
    ApiTokenScopeDomain,
    ApiTokenScopeService,
    InvitationScopeDomain,
    InvitationScopeService,
    MembershipScopeDomain,
    MembershipScopeService,
)
from models.sso import ServiceLogin
from models.tickets import Ticket, TicketMessage, TicketStatus
from models.two_factor import TwoFactorChallenge, TwoFactorCredential, TwoFactorRecoveryCode
from models.users import User

__all__ = [
    "AccountStatus",
    "Affiliate",
    "AffiliateCommission",
    "ApiToken",
    "ApiTokenAccount",
    "ApiTokenScopeDomain",
    "ApiTokenScopeService",
    "AuditEvent",
    "Base",
    "BillingCycle",
    "CancellationType",
    "ClientAccount",
    "CommissionStatus",
    "ConfigurableOption",
    "Contact",
    "Domain",
    "DomainStatus",
    "EmailStatus",
    "EmailVerificationToken",
    "IdempotencyKey",
    "Invitation",
    "InvitationScopeDomain",
    "InvitationScopeService",
    "InvitationState",
    "Invoice",
    "InvoiceLine",
    "InvoiceStatus",
    "InvoiceTax",
    "Membership",
    "MembershipRole",
    "MembershipScopeDomain",
    "MembershipScopeService",
    "NumberSequence",
    "OptionChoice",
    "OptionChoicePrice",
    "Order",
    "OrderItem",
    "OrderStatus",
    "OutboxEmail",
    "PasswordResetRequest",
    "PasswordResetToken",
    "Permission",
    "PersistedDocument",
    "Product",
    "ProductPrice",
    "ProductType",
    "RateLimitHit",
    "Service",
    "ServiceLogin",
    "ServiceStatus",
    "Session",
    "Ticket",
    "TicketMessage",
    "TicketStatus",
    "TwoFactorChallenge",
    "TwoFactorCredential",
    "TwoFactorRecoveryCode",
    "User",
]
