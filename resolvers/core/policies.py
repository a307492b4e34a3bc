"""What each kind of account data needs: the one place its permissions are stated.

A `Policy` names, for one kind of object, the permission(s) to see it and to change it, and
whether a scoped member or token (DESIGN rule 16) may reach it. Field permissions and their
"Needs ..." descriptions, node fetchers, payload fields and mutation requirements are all built
from these declarations (schema/core/policy.py); nothing else in the code names a permission for a
kind of object. `tests/test_policies.py` fails for a gated field or a mutation that does not
name its requirement.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from models.permissions import SCOPED_PERMISSIONS, Permission


@dataclass(frozen=True)
class Needs:
    """A requirement in the object's account: any one of `any_of`, and every one of `all_of`.

    An empty requirement means membership alone: the viewer reaches the account (rule 5).
    """

    any_of: tuple[Permission, ...] = ()
    all_of: tuple[Permission, ...] = ()
    # How the description reads when the requirement applies only in some cases.
    when: str = ""

    def met_by(self, held: frozenset[Permission]) -> bool:
        if self.any_of and not any(p in held for p in self.any_of):
            return False
        return all(p in held for p in self.all_of)

    @property
    def named(self) -> tuple[Permission, ...]:
        """The permissions a FORBIDDEN answer lists as required."""
        return self.any_of + tuple(p for p in self.all_of if p not in self.any_of)

    @property
    def text(self) -> str:
        """The sentence the SDL description carries, e.g. "Needs VIEW_DOMAINS."."""
        if self.all_of:
            names = " and ".join(p.value for p in self.all_of)
        elif self.any_of:
            names = " or ".join(p.value for p in self.any_of)
        else:
            return ""
        return f"Needs {names}{' ' + self.when if self.when else ''}."

    def describe(self, description: str | None = None) -> str:
        """`description` with the requirement's sentence appended (or alone)."""
        if not self.text:
            return description or ""
        return f"{description} {self.text}" if description else self.text


def needs(*any_of: Permission, when: str = "") -> Needs:
    return Needs(any_of=tuple(any_of), when=when)


def needs_all(*all_of: Permission) -> Needs:
    return Needs(all_of=tuple(all_of))


MEMBERSHIP_ONLY = Needs()


@dataclass(frozen=True)
class Policy:
    """One kind of account data: what seeing it and changing it needs.

    `scoped`: a member or token limited to chosen services and domains reaches objects of this
    kind (within the scope: resolvers/core/reach.py); every permission it names is then one a scope
    can bound. A restricted API token acts on any kind only within its accounts and permissions
    (rule 14); identity-level actions are declared as such on the mutation instead.
    """

    kind: str
    view: Needs
    change: Needs
    scoped: bool = False
    # The per-request loader (an attribute path on `context.loaders`) that fetches one by ID as
    # the viewer may see it; empty for kinds no mutation names by ID.
    loader: str = ""
    # Further requirements by name, for actions that need something other than `change`.
    actions: dict[str, Needs] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.scoped:
            named = {*self.view.named, *self.change.named}
            assert named <= SCOPED_PERMISSIONS, (
                f"{self.kind}: a scope cannot bound {named - SCOPED_PERMISSIONS}"
            )
        POLICIES[self.kind] = self

    def action(self, name: str) -> Needs:
        return self.actions[name]


POLICIES: dict[str, Policy] = {}


P = Permission

ACCOUNT = Policy(
    "ClientAccount",
    view=MEMBERSHIP_ONLY,
    change=needs(P.MANAGE_PROFILE),
    actions={"billingProfile": needs(P.MANAGE_PROFILE, P.VIEW_INVOICES)},
)
MEMBERSHIP = Policy(
    "Membership",
    view=needs(P.MANAGE_USERS),
    change=needs(P.MANAGE_USERS),
    loader="membership",
    # Only an unscoped member sets a scope (DESIGN rule 16); the resolver checks that part.
    actions={"scope": needs(P.MANAGE_USERS, when="and a membership that is not scoped itself")},
)
INVITATION = Policy(
    "Invitation", view=needs(P.MANAGE_USERS), change=needs(P.MANAGE_USERS), loader="invitation"
)
AUDIT_EVENT = Policy("AuditEvent", view=needs(P.MANAGE_USERS), change=needs(P.MANAGE_USERS))
CONTACT = Policy(
    "Contact",
    view=needs(P.MANAGE_CONTACTS, P.MANAGE_DOMAINS, P.PLACE_ORDERS),
    change=needs(P.MANAGE_CONTACTS),
    loader="contact",
)
SERVICE = Policy(
    "Service",
    view=needs(P.VIEW_SERVICES),
    change=needs(P.MANAGE_SERVICES),
    scoped=True,
    loader="service",
    actions={
        "signIn": needs(P.SERVICE_SSO),
        # Changing specifications is managing the service and ordering the change, billed to the account.
        "upgrade": needs_all(P.MANAGE_SERVICES, P.PLACE_ORDERS),
        # Any member reaching the service may ask, as long as they may order for the account.
        "cancel": needs(P.PLACE_ORDERS),
    },
)
DOMAIN = Policy(
    "Domain", view=needs(P.VIEW_DOMAINS), change=needs(P.MANAGE_DOMAINS), scoped=True, loader="domain"
)
TICKET = Policy(
    "Ticket",
    view=needs(P.SUPPORT_TICKETS),
    change=needs(P.SUPPORT_TICKETS),
    scoped=True,
    loader="tickets.ticket",
)
ORDER = Policy(
    "Order",
    view=needs(P.PLACE_ORDERS, P.VIEW_INVOICES),
    change=needs(P.PLACE_ORDERS),
    loader="billing.order",
)
INVOICE = Policy(
    "Invoice", view=needs(P.VIEW_INVOICES), change=needs(P.VIEW_INVOICES), loader="billing.invoice"
)
AFFILIATE = Policy("Affiliate", view=needs(P.MANAGE_AFFILIATE), change=needs(P.MANAGE_AFFILIATE))
