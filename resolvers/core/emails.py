"""The emails the client area sends, in German and English, as plain text and HTML."""

from __future__ import annotations

import html
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.accounts import ClientAccount, Membership, MembershipRole

GERMAN_SPEAKING = frozenset({"AT", "DE", "CH", "LI"})


def language_for_country(country_code: str) -> str:
    return "de" if country_code.upper() in GERMAN_SPEAKING else "en"


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class Template:
    subject: str
    # Paragraphs of the body; `{link}` stands on a line of its own and becomes a link in HTML.
    paragraphs: tuple[str, ...]
    action: str


TEMPLATES: dict[str, dict[str, Template]] = {
    "invitation": {
        "en": Template(
            subject="{inviter} invites you to {account}",
            paragraphs=(
                "Hello,",
                "{inviter} invites you to act for the client account {account}.",
                "Accept the invitation here (the link is valid until {expires}):",
                "{link}",
                "If you did not expect this invitation, ignore this email.",
            ),
            action="Accept invitation",
        ),
        "de": Template(
            subject="{inviter} lädt Sie zu {account} ein",
            paragraphs=(
                "Guten Tag,",
                "{inviter} lädt Sie ein, für das Kundenkonto {account} tätig zu werden.",
                "Hier nehmen Sie die Einladung an (der Link gilt bis {expires}):",
                "{link}",
                "Wenn Sie diese Einladung nicht erwartet haben, ignorieren Sie diese E-Mail.",
            ),
            action="Einladung annehmen",
        ),
    },
    "password_reset": {
        "en": Template(
            subject="Reset your password",
            paragraphs=(
                "Hello {name},",
                "Someone asked to reset the password of your client area login. Set a new "
                "password here (the link is valid until {expires}):",
                "{link}",
                "If it was not you, ignore this email; your password stays as it is.",
            ),
            action="Set a new password",
        ),
        "de": Template(
            subject="Passwort zurücksetzen",
            paragraphs=(
                "Guten Tag {name},",
                "Für Ihren Kundenbereich-Zugang wurde ein neues Passwort angefordert. Hier "
                "legen Sie es fest (der Link gilt bis {expires}):",
                "{link}",
                "Wenn Sie das nicht waren, ignorieren Sie diese E-Mail; Ihr Passwort bleibt gleich.",
            ),
            action="Neues Passwort festlegen",
        ),
    },
    "email_verification": {
        "en": Template(
            subject="Confirm your email address",
            paragraphs=(
                "Hello {name},",
                "Please confirm that this is the address of your client area login (the link is "
                "valid until {expires}):",
                "{link}",
                "If you did not sign up, ignore this email; nobody can use this address with us "
                "beyond their own new account until it is confirmed.",
            ),
            action="Confirm email address",
        ),
        "de": Template(
            subject="Bestätigen Sie Ihre E-Mail-Adresse",
            paragraphs=(
                "Guten Tag {name},",
                "Bitte bestätigen Sie, dass dies die Adresse Ihres Kundenbereich-Zugangs ist (der "
                "Link gilt bis {expires}):",
                "{link}",
                "Wenn Sie sich nicht registriert haben, ignorieren Sie diese E-Mail; ohne "
                "Bestätigung kann niemand diese Adresse bei uns über ein eigenes neues Konto "
                "hinaus nutzen.",
            ),
            action="E-Mail-Adresse bestätigen",
        ),
    },
    "two_factor_enabled": {
        "en": Template(
            subject="Two-factor sign-in is on",
            paragraphs=(
                "Hello {name},",
                "Two-factor sign-in was turned on for your client area login on {when}. From now "
                "on, signing in needs a code from your authenticator app or one of your recovery codes.",
                "If it was not you, reset your password at once and contact us:",
                "{link}",
            ),
            action="Open the client area",
        ),
        "de": Template(
            subject="Zwei-Faktor-Anmeldung ist aktiv",
            paragraphs=(
                "Guten Tag {name},",
                "Für Ihren Kundenbereich-Zugang wurde am {when} die Zwei-Faktor-Anmeldung "
                "eingeschaltet. Ab jetzt braucht die Anmeldung einen Code aus Ihrer "
                "Authenticator-App oder einen Ihrer Wiederherstellungscodes.",
                "Wenn Sie das nicht waren, setzen Sie sofort Ihr Passwort zurück und kontaktieren Sie uns:",
                "{link}",
            ),
            action="Kundenbereich öffnen",
        ),
    },
    "two_factor_disabled": {
        "en": Template(
            subject="Two-factor sign-in is off",
            paragraphs=(
                "Hello {name},",
                "Two-factor sign-in was turned off for your client area login on {when}. Signing in "
                "now needs only your password, and accounts that require two-factor sign-in are "
                "closed to you until you turn it on again.",
                "If it was not you, reset your password at once and contact us:",
                "{link}",
            ),
            action="Open the client area",
        ),
        "de": Template(
            subject="Zwei-Faktor-Anmeldung ist ausgeschaltet",
            paragraphs=(
                "Guten Tag {name},",
                "Für Ihren Kundenbereich-Zugang wurde am {when} die Zwei-Faktor-Anmeldung "
                "ausgeschaltet. Die Anmeldung braucht jetzt nur Ihr Passwort, und Konten, die "
                "Zwei-Faktor-Anmeldung verlangen, bleiben Ihnen verschlossen, bis Sie sie wieder "
                "einschalten.",
                "Wenn Sie das nicht waren, setzen Sie sofort Ihr Passwort zurück und kontaktieren Sie uns:",
                "{link}",
            ),
            action="Kundenbereich öffnen",
        ),
    },
    "two_factor_recovery_code_used": {
        "en": Template(
            subject="A recovery code was used to sign in",
            paragraphs=(
                "Hello {name},",
                "Someone signed in to your client area login with one of your recovery codes on "
                "{when}. Each code works once; you have {left} left.",
                "If it was not you, reset your password at once and contact us:",
                "{link}",
            ),
            action="Open the client area",
        ),
        "de": Template(
            subject="Anmeldung mit einem Wiederherstellungscode",
            paragraphs=(
                "Guten Tag {name},",
                "Am {when} wurde Ihr Kundenbereich-Zugang mit einem Ihrer Wiederherstellungscodes "
                "angemeldet. Jeder Code gilt einmal; Sie haben noch {left}.",
                "Wenn Sie das nicht waren, setzen Sie sofort Ihr Passwort zurück und kontaktieren Sie uns:",
                "{link}",
            ),
            action="Kundenbereich öffnen",
        ),
    },
    "two_factor_required": {
        "en": Template(
            subject="{account} requires two-factor sign-in",
            paragraphs=(
                "Hello {name},",
                "The owner of the client account {account} now requires two-factor sign-in of "
                "everyone who acts in it. Until you turn it on for your login, you can do nothing "
                "there. Turn it on in your security settings:",
                "{link}",
            ),
            action="Open the security settings",
        ),
        "de": Template(
            subject="{account} verlangt Zwei-Faktor-Anmeldung",
            paragraphs=(
                "Guten Tag {name},",
                "Der Inhaber des Kundenkontos {account} verlangt jetzt von allen, die darin tätig "
                "sind, die Zwei-Faktor-Anmeldung. Bis Sie sie für Ihren Zugang einschalten, können "
                "Sie dort nichts tun. Schalten Sie sie in Ihren Sicherheitseinstellungen ein:",
                "{link}",
            ),
            action="Sicherheitseinstellungen öffnen",
        ),
    },
    "account_created_on_behalf": {
        "en": Template(
            subject="Your client account {account} is ready",
            paragraphs=(
                "Hello {name},",
                "{agent} registered the client account {account} for you, with your power of "
                "attorney. You are its owner. Set your password here (the link is valid until "
                "{expires}):",
                "{link}",
                "If you did not authorise this, reply to this email.",
            ),
            action="Set your password",
        ),
        "de": Template(
            subject="Ihr Kundenkonto {account} ist eingerichtet",
            paragraphs=(
                "Guten Tag {name},",
                "{agent} hat mit Ihrer Vollmacht das Kundenkonto {account} für Sie registriert. "
                "Sie sind sein Inhaber. Legen Sie hier Ihr Passwort fest (der Link gilt bis "
                "{expires}):",
                "{link}",
                "Wenn Sie das nicht veranlasst haben, antworten Sie auf diese E-Mail.",
            ),
            action="Passwort festlegen",
        ),
    },
    "ticket_reply": {
        "en": Template(
            subject="Reply to ticket {number}: {subject}",
            paragraphs=(
                "Hello {name},",
                "{staff} answered the ticket {number} ({subject}) of the client account {account}:",
                "{reply}",
                "Read the whole ticket and reply here:",
                "{link}",
            ),
            action="Open the ticket",
        ),
        "de": Template(
            subject="Antwort auf Ticket {number}: {subject}",
            paragraphs=(
                "Guten Tag {name},",
                "{staff} hat auf das Ticket {number} ({subject}) des Kundenkontos {account} geantwortet:",
                "{reply}",
                "Hier lesen Sie das ganze Ticket und antworten:",
                "{link}",
            ),
            action="Ticket öffnen",
        ),
    },
}


def format_expiry(moment: datetime, language: str) -> str:
    return moment.strftime("%d.%m.%Y %H:%M UTC" if language == "de" else "%Y-%m-%d %H:%M UTC")


async def language_of_user(session: AsyncSession, user_id: uuid.UUID) -> str:
    """The language of the user's first owned account (else first membership); English without any."""
    country = await session.scalar(
        select(ClientAccount.billing_country_code)
        .join(Membership, Membership.account_id == ClientAccount.id)
        .where(Membership.user_id == user_id)
        .order_by(case((Membership.role == MembershipRole.OWNER, 0), else_=1), Membership.id)
        .limit(1)
    )
    return language_for_country(country) if country else "en"


def render(template: str, language: str, params: Mapping[str, str]) -> RenderedEmail:
    """The message in `language` (English when it has no such translation)."""
    chosen = TEMPLATES[template].get(language) or TEMPLATES[template]["en"]
    link = params.get("link", "")
    text_parts = [p.format_map(params) for p in chosen.paragraphs]
    html_parts = []
    for paragraph in chosen.paragraphs:
        if paragraph == "{link}":
            html_parts.append(
                f'<p><a href="{html.escape(link, quote=True)}">{html.escape(chosen.action)}</a></p>'
            )
        else:
            # A parameter may span lines (a ticket reply); HTML would run them together.
            escaped = {k: html.escape(v).replace("\n", "<br>\n") for k, v in params.items()}
            html_parts.append(f"<p>{paragraph.format_map(escaped)}</p>")
    return RenderedEmail(
        subject=chosen.subject.format_map(params).replace("\n", " "),
        text="\n\n".join(text_parts) + "\n",
        html='<!doctype html><html><body style="font-family:sans-serif">'
        + "".join(html_parts)
        + "</body></html>",
    )
