"""Two-factor sign-in: a user's TOTP secret (encrypted), their recovery codes, and the short-lived
challenges that stand between a right password and a session."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, CreatedAtMixin, IdMixin


class TwoFactorCredential(CreatedAtMixin, Base):
    __tablename__ = "two_factor_credentials"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    # A Fernet token (settings.two_factor_keys) of the base32 TOTP secret, never the secret itself.
    secret_encrypted: Mapped[str] = mapped_column(String(400))
    # Null while the setup waits for its first code; two-factor sign-in is on once it is set.
    enabled_at: Mapped[datetime | None]
    # The latest TOTP time step accepted: a code of this step or an earlier one is never taken again.
    last_used_step: Mapped[int | None] = mapped_column(BigInteger)


class TwoFactorRecoveryCode(IdMixin, CreatedAtMixin, Base):
    __tablename__ = "two_factor_recovery_codes"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    used_at: Mapped[datetime | None]


class TwoFactorChallenge(IdMixin, CreatedAtMixin, Base):
    __tablename__ = "two_factor_challenges"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
