"""Every mutation writes an audit event: who, with which credential, where, on what, in which request.

A new mutation without a scenario here fails `test_every_mutation_has_an_audit_scenario`.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from models import AuditEvent, OutboxEmail
from models.database import Database
from models.permissions import Permission
from resolvers.core.credentials import hash_password
from resolvers.core.ids import encode_id
from resolvers.core.settings import Settings
from schema.schema import schema
from tests.factories import (
    BILLING,
    TwoFactorDevice,
    add_member,
    create_account,
    create_service,
    create_user,
    enable_two_factor,
    session_for,
)
from tests.graphql import Api

PASSWORD = "a long enough passphrase"


@dataclass
class Call:
    client: Api
    query: str
    variables: dict[str, Any]


Scenario = Callable[[Api, Database, Settings], Awaitable[Call]]
SCENARIOS: dict[str, Scenario] = {}


def scenario(name: str) -> Callable[[Scenario], Scenario]:
    def register(function: Scenario) -> Scenario:
        SCENARIOS[name] = function
        return function

    return register


async def _signed_in(api: Api, db: Database, settings: Settings, email: str | None = None) -> Any:
    user = await create_user(db, email=email, password_hash=await hash_password(settings, PASSWORD))
    client = api.new()
    client.set_session(await session_for(db, settings, user))
    return user, client


async def _owner(api: Api, db: Database, settings: Settings) -> Any:
    user, client = await _signed_in(api, db, settings)
    account = await create_account(db, owner=user)
    return user, client, account


async def _token_in_outbox(db: Database, path: str) -> str:
    async with db.read() as session:
        body = await session.scalar(select(OutboxEmail.text_body).order_by(OutboxEmail.id.desc()))
    match = re.search(re.escape(path) + r"\?token=([A-Za-z0-9_-]+)", body or "")
    assert match
    return match.group(1)


def _gid(kind: str, pk: uuid.UUID) -> str:
    return encode_id(kind, pk)


@scenario("signUp")
async def _sign_up(api: Api, db: Database, settings: Settings) -> Call:
    variables = {
        "input": {
            "email": "new@example.com",
            "name": "New",
            "password": PASSWORD,
            "accountName": "New GmbH",
            "billingProfile": BILLING,
        }
    }
    return Call(
        api.new(), "mutation($input: SignUpInput!) { signUp(input: $input) { user { id } } }", variables
    )


@scenario("signIn")
async def _sign_in(api: Api, db: Database, settings: Settings) -> Call:
    await create_user(db, email="in@example.com", password_hash=await hash_password(settings, PASSWORD))
    return Call(
        api.new(),
        "mutation($e: String!, $p: String!) { signIn(input: {email: $e, password: $p}) { user { id } } }",
        {"e": "in@example.com", "p": PASSWORD},
    )


@scenario("signOut")
async def _sign_out(api: Api, db: Database, settings: Settings) -> Call:
    _, client = await _signed_in(api, db, settings)
    return Call(client, "mutation { signOut { ok } }", {})


@scenario("requestPasswordReset")
async def _request_reset(api: Api, db: Database, settings: Settings) -> Call:
    await create_user(db, email="forgot@example.com")
    return Call(
        api.new(),
        "mutation($e: String!) { requestPasswordReset(input: {email: $e}) { ok } }",
        {"e": "forgot@example.com"},
    )


@scenario("resetPassword")
async def _reset(api: Api, db: Database, settings: Settings) -> Call:
    await create_user(db, email="forgot@example.com")
    await api.new()(
        "mutation($e: String!) { requestPasswordReset(input: {email: $e}) { ok } }",
        {"e": "forgot@example.com"},
    )
    token = await _token_in_outbox(db, "/password/reset")
    return Call(
        api.new(),
        "mutation($t: String!, $p: String!) "
        "{ resetPassword(input: {token: $t, password: $p}) { user { id } } }",
        {"t": token, "p": "another long passphrase"},
    )


@scenario("requestEmailVerification")
async def _request_verification(api: Api, db: Database, settings: Settings) -> Call:
    user = await create_user(db, verified=False)
    client = api.new()
    client.set_session(await session_for(db, settings, user))
    return Call(client, "mutation { requestEmailVerification { ok } }", {})


@scenario("verifyEmail")
async def _verify_email(api: Api, db: Database, settings: Settings) -> Call:
    user = await create_user(db, verified=False)
    client = api.new()
    client.set_session(await session_for(db, settings, user))
    await client("mutation { requestEmailVerification { ok } }")
    token = await _token_in_outbox(db, "/email/verify")
    return Call(
        api.new(), "mutation($t: String!) { verifyEmail(input: {token: $t}) { user { id } } }", {"t": token}
    )


@scenario("completeSignIn")
async def _complete_sign_in(api: Api, db: Database, settings: Settings) -> Call:
    user = await create_user(
        db, email="2fa@example.com", password_hash=await hash_password(settings, PASSWORD)
    )
    device = await enable_two_factor(db, settings, user)
    browser = api.new()
    signed = await browser(
        "mutation($e: String!, $p: String!) "
        "{ signIn(input: {email: $e, password: $p}) { twoFactorChallenge } }",
        {"e": "2fa@example.com", "p": PASSWORD},
    )
    return Call(
        browser,
        "mutation($c: String!, $code: String!) "
        "{ completeSignIn(input: {twoFactorChallenge: $c, code: $code}) "
        "{ user { id } userErrors { code } } }",
        {"c": signed.payload("signIn")["twoFactorChallenge"], "code": device.code()},
    )


@scenario("beginTwoFactorSetup")
async def _begin_two_factor(api: Api, db: Database, settings: Settings) -> Call:
    _, client = await _signed_in(api, db, settings)
    return Call(
        client,
        "mutation($p: String!) { beginTwoFactorSetup(input: {password: $p}) { secret userErrors { code } } }",
        {"p": PASSWORD},
    )


@scenario("confirmTwoFactor")
async def _confirm_two_factor(api: Api, db: Database, settings: Settings) -> Call:
    _, client = await _signed_in(api, db, settings)
    begun = await client('mutation { beginTwoFactorSetup(input: {password: "' + PASSWORD + '"}) { secret } }')
    secret = begun.payload("beginTwoFactorSetup")["secret"]
    return Call(
        client,
        "mutation($c: String!) { confirmTwoFactor(input: {code: $c}) { recoveryCodes userErrors { code } } }",
        {"c": TwoFactorDevice(secret, []).code()},
    )


@scenario("disableTwoFactor")
async def _disable_two_factor(api: Api, db: Database, settings: Settings) -> Call:
    user, client = await _signed_in(api, db, settings)
    device = await enable_two_factor(db, settings, user)
    return Call(
        client,
        "mutation($p: String!, $c: String!) { disableTwoFactor(input: {password: $p, code: $c}) "
        "{ ok userErrors { code } } }",
        {"p": PASSWORD, "c": device.recovery_codes[0]},
    )


@scenario("updateAccountSecurity")
async def _update_account_security(api: Api, db: Database, settings: Settings) -> Call:
    user, client, account = await _owner(api, db, settings)
    await enable_two_factor(db, settings, user)
    return Call(
        client,
        "mutation($id: ID!) { updateAccountSecurity(input: {accountId: $id, requireTwoFactor: true}) "
        "{ account { id } userErrors { code } } }",
        {"id": _gid("ClientAccount", account.id)},
    )


@scenario("createApiToken")
async def _create_token(api: Api, db: Database, settings: Settings) -> Call:
    _, client = await _signed_in(api, db, settings)
    return Call(client, 'mutation { createApiToken(input: {name: "x"}) { token } }', {})


@scenario("revokeApiToken")
async def _revoke_token(api: Api, db: Database, settings: Settings) -> Call:
    _, client = await _signed_in(api, db, settings)
    minted = await client('mutation { createApiToken(input: {name: "x"}) { apiToken { id } } }')
    token_id = minted.payload("createApiToken")["apiToken"]["id"]
    return Call(
        client,
        "mutation($id: ID!) { revokeApiToken(input: {apiTokenId: $id}) { apiToken { id } } }",
        {"id": token_id},
    )


@scenario("createClientAccount")
async def _create_account(api: Api, db: Database, settings: Settings) -> Call:
    _, client = await _signed_in(api, db, settings)
    return Call(
        client,
        "mutation($i: CreateClientAccountInput!) { createClientAccount(input: $i) { account { id } } }",
        {"i": {"name": "Second", "billingProfile": BILLING}},
    )


@scenario("createClientAccountOnBehalf")
async def _on_behalf(api: Api, db: Database, settings: Settings) -> Call:
    _, client = await _signed_in(api, db, settings)
    variables = {
        "i": {
            "owner": {"email": "customer@example.com", "name": "Customer"},
            "name": "Customer KG",
            "billingProfile": BILLING,
            "permissions": ["VIEW_SERVICES"],
            "powerOfAttorney": True,
        }
    }
    return Call(
        client,
        "mutation($i: CreateClientAccountOnBehalfInput!) "
        "{ createClientAccountOnBehalf(input: $i) { account { id } } }",
        variables,
    )


@scenario("updateBillingProfile")
async def _update_billing(api: Api, db: Database, settings: Settings) -> Call:
    _, client, account = await _owner(api, db, settings)
    return Call(
        client,
        "mutation($i: UpdateBillingProfileInput!) { updateBillingProfile(input: $i) { account { id } } }",
        {"i": {"accountId": _gid("ClientAccount", account.id), "billingProfile": BILLING}},
    )


@scenario("transferAccountOwnership")
async def _transfer(api: Api, db: Database, settings: Settings) -> Call:
    _, client, account = await _owner(api, db, settings)
    member = await add_member(db, account=account, user=await create_user(db))
    return Call(
        client,
        "mutation($id: ID!) { transferAccountOwnership(input: {membershipId: $id}) { account { id } } }",
        {"id": _gid("Membership", member.id)},
    )


INVITE = "mutation($i: InviteUserInput!) { inviteUser(input: $i) { invitation { id } userErrors { code } } }"


async def _invited(api: Api, db: Database, settings: Settings, email: str) -> tuple[Api, str]:
    _, client, account = await _owner(api, db, settings)
    response = await client(
        INVITE, {"i": {"accountId": _gid("ClientAccount", account.id), "email": email, "permissions": []}}
    )
    return client, response.payload("inviteUser")["invitation"]["id"]


@scenario("inviteUser")
async def _invite(api: Api, db: Database, settings: Settings) -> Call:
    _, client, account = await _owner(api, db, settings)
    return Call(
        client,
        INVITE,
        {"i": {"accountId": _gid("ClientAccount", account.id), "email": "a@example.com", "permissions": []}},
    )


@scenario("revokeInvitation")
async def _revoke_invitation(api: Api, db: Database, settings: Settings) -> Call:
    client, invitation_id = await _invited(api, db, settings, "a@example.com")
    return Call(
        client,
        "mutation($id: ID!) { revokeInvitation(input: {invitationId: $id}) { invitation { id } } }",
        {"id": invitation_id},
    )


@scenario("acceptInvitation")
async def _accept(api: Api, db: Database, settings: Settings) -> Call:
    _, invitation_id = await _invited(api, db, settings, "invitee@example.com")
    _, invitee = await _signed_in(api, db, settings, email="invitee@example.com")
    return Call(
        invitee,
        "mutation($id: ID) { acceptInvitation(input: {invitationId: $id}) { membership { id } } }",
        {"id": invitation_id},
    )


@scenario("signUpWithInvitation")
async def _sign_up_with_invitation(api: Api, db: Database, settings: Settings) -> Call:
    await _invited(api, db, settings, "invitee@example.com")
    token = await _token_in_outbox(db, "/invitations/accept")
    return Call(
        api.new(),
        "mutation($i: SignUpWithInvitationInput!) { signUpWithInvitation(input: $i) { user { id } } }",
        {"i": {"token": token, "name": "Invitee", "password": PASSWORD}},
    )


@scenario("updateMemberPermissions")
async def _update_member(api: Api, db: Database, settings: Settings) -> Call:
    _, client, account = await _owner(api, db, settings)
    member = await add_member(db, account=account, user=await create_user(db))
    return Call(
        client,
        "mutation($id: ID!) "
        "{ updateMemberPermissions(input: {membershipId: $id, permissions: [VIEW_DOMAINS]})"
        " { membership { id } } }",
        {"id": _gid("Membership", member.id)},
    )


@scenario("updateMemberScope")
async def _update_member_scope(api: Api, db: Database, settings: Settings) -> Call:
    _, client, account = await _owner(api, db, settings)
    member = await add_member(
        db, account=account, user=await create_user(db), permissions=[Permission.VIEW_SERVICES]
    )
    service = await create_service(db, account=account)
    return Call(
        client,
        "mutation($id: ID!, $service: ID!) { updateMemberScope(input: {membershipId: $id,"
        " scope: {serviceIds: [$service], domainIds: []}}) { membership { id } } }",
        {"id": _gid("Membership", member.id), "service": _gid("Service", service.id)},
    )


@scenario("removeMember")
async def _remove_member(api: Api, db: Database, settings: Settings) -> Call:
    _, client, account = await _owner(api, db, settings)
    member = await add_member(
        db, account=account, user=await create_user(db), permissions=[Permission.VIEW_DOMAINS]
    )
    return Call(
        client,
        "mutation($id: ID!) { removeMember(input: {membershipId: $id}) { removedMembershipId } }",
        {"id": _gid("Membership", member.id)},
    )


CONTACT = {key: value for key, value in BILLING.items() if key != "taxId"}
CREATE_CONTACT = (
    "mutation($i: CreateContactInput!) { createContact(input: $i) { contact { id } userErrors { code } } }"
)


async def _contact(api: Api, db: Database, settings: Settings) -> tuple[Api, str]:
    _, client, account = await _owner(api, db, settings)
    response = await client(
        CREATE_CONTACT, {"i": {"accountId": _gid("ClientAccount", account.id), "contact": CONTACT}}
    )
    return client, response.payload("createContact")["contact"]["id"]


@scenario("createContact")
async def _create_contact(api: Api, db: Database, settings: Settings) -> Call:
    _, client, account = await _owner(api, db, settings)
    return Call(
        client, CREATE_CONTACT, {"i": {"accountId": _gid("ClientAccount", account.id), "contact": CONTACT}}
    )


@scenario("updateContact")
async def _update_contact(api: Api, db: Database, settings: Settings) -> Call:
    client, contact_id = await _contact(api, db, settings)
    return Call(
        client,
        "mutation($i: UpdateContactInput!) { updateContact(input: $i) { contact { id } } }",
        {"i": {"contactId": contact_id, "contact": {**CONTACT, "firstName": "Changed"}}},
    )


@scenario("deleteContact")
async def _delete_contact(api: Api, db: Database, settings: Settings) -> Call:
    client, contact_id = await _contact(api, db, settings)
    return Call(
        client,
        "mutation($id: ID!) { deleteContact(input: {contactId: $id}) { deletedContactId } }",
        {"id": contact_id},
    )


@scenario("placeOrder")
async def _place_order(api: Api, db: Database, settings: Settings) -> Call:
    from clientarea.catalogue import sync_catalogue
    from models import Product

    await sync_catalogue(db)
    async with db.read() as session:
        product = await session.scalar(select(Product).where(Product.key == "webhosting-s"))
    assert product is not None
    _, client, account = await _owner(api, db, settings)
    item = {"productId": _gid("Product", product.id), "billingCycle": "MONTHLY"}
    return Call(
        client,
        "mutation($i: PlaceOrderInput!) { placeOrder(input: $i) { order { id } userErrors { code } } }",
        {"i": {"accountId": _gid("ClientAccount", account.id), "items": [item], "idempotencyKey": "k"}},
    )


async def _domain(api: Api, db: Database, settings: Settings) -> tuple[Api, str]:
    from clientarea.catalogue import sync_catalogue
    from tests.factories import create_domain

    await sync_catalogue(db)
    _, client, account = await _owner(api, db, settings)
    domain = await create_domain(db, account=account)
    return client, _gid("Domain", domain.id)


@scenario("updateDomainContacts")
async def _update_domain_contacts(api: Api, db: Database, settings: Settings) -> Call:
    client, domain_id = await _domain(api, db, settings)
    return Call(
        client,
        "mutation($i: UpdateDomainContactsInput!) { updateDomainContacts(input: $i) { domain { id } } }",
        {"i": {"domainId": domain_id, "contacts": {}}},
    )


@scenario("updateDomainNameservers")
async def _update_domain_nameservers(api: Api, db: Database, settings: Settings) -> Call:
    client, domain_id = await _domain(api, db, settings)
    return Call(
        client,
        "mutation($i: UpdateDomainNameserversInput!) "
        "{ updateDomainNameservers(input: $i) { domain { id } } }",
        {"i": {"domainId": domain_id, "nameservers": ["ns1.example.org", "ns2.example.org"]}},
    )


@scenario("updateDomainSettings")
async def _update_domain_settings(api: Api, db: Database, settings: Settings) -> Call:
    client, domain_id = await _domain(api, db, settings)
    return Call(
        client,
        "mutation($i: UpdateDomainSettingsInput!) { updateDomainSettings(input: $i) { domain { id } } }",
        {"i": {"domainId": domain_id, "autoRenew": False}},
    )


async def _service(api: Api, db: Database, settings: Settings) -> tuple[Api, str]:
    from tests.factories import create_service

    _, client, account = await _owner(api, db, settings)
    service = await create_service(db, account=account)
    return client, _gid("Service", service.id)


@scenario("changeServiceSpecifications")
async def _change_service_specifications(api: Api, db: Database, settings: Settings) -> Call:
    client, service_id = await _service(api, db, settings)
    return Call(
        client,
        "mutation($i: ChangeServiceSpecificationsInput!) "
        "{ changeServiceSpecifications(input: $i) { service { id } order { id } userErrors { code } } }",
        {"i": {"serviceId": service_id, "specifications": [{"key": "disk", "value": "50"}]}},
    )


@scenario("requestServiceCancellation")
async def _request_service_cancellation(api: Api, db: Database, settings: Settings) -> Call:
    client, service_id = await _service(api, db, settings)
    return Call(
        client,
        "mutation($i: RequestServiceCancellationInput!) "
        "{ requestServiceCancellation(input: $i) { service { id } userErrors { code } } }",
        {"i": {"serviceId": service_id, "type": "END_OF_BILLING_PERIOD", "reason": "Moving on."}},
    )


@scenario("createServiceLoginLink")
async def _create_service_login_link(api: Api, db: Database, settings: Settings) -> Call:
    client, service_id = await _service(api, db, settings)
    return Call(
        client,
        "mutation($i: CreateServiceLoginLinkInput!) "
        "{ createServiceLoginLink(input: $i) { url userErrors { code } } }",
        {"i": {"serviceId": service_id}},
    )


@scenario("activateAffiliate")
async def _activate_affiliate(api: Api, db: Database, settings: Settings) -> Call:
    _, client, account = await _owner(api, db, settings)
    return Call(
        client,
        "mutation($id: ID!) { activateAffiliate(input: {accountId: $id}) "
        "{ affiliate { referralCode } userErrors { code } } }",
        {"id": _gid("ClientAccount", account.id)},
    )


OPEN_TICKET = "mutation($i: OpenTicketInput!) { openTicket(input: $i) { ticket { id } userErrors { code } } }"


def _ticket_input(account_id: uuid.UUID) -> dict[str, Any]:
    return {
        "i": {
            "accountId": _gid("ClientAccount", account_id),
            "department": "Support",
            "subject": "Mail is not delivered",
            "message": "Since this morning.",
        }
    }


async def _ticket(api: Api, db: Database, settings: Settings) -> tuple[Api, str]:
    _, client, account = await _owner(api, db, settings)
    opened = await client(OPEN_TICKET, _ticket_input(account.id))
    return client, opened.payload("openTicket")["ticket"]["id"]


@scenario("openTicket")
async def _open_ticket(api: Api, db: Database, settings: Settings) -> Call:
    _, client, account = await _owner(api, db, settings)
    return Call(client, OPEN_TICKET, _ticket_input(account.id))


@scenario("replyToTicket")
async def _reply_to_ticket(api: Api, db: Database, settings: Settings) -> Call:
    client, ticket_id = await _ticket(api, db, settings)
    return Call(
        client,
        'mutation($id: ID!) { replyToTicket(input: {ticketId: $id, message: "More."}) '
        "{ ticket { id } userErrors { code } } }",
        {"id": ticket_id},
    )


@scenario("closeTicket")
async def _close_ticket(api: Api, db: Database, settings: Settings) -> Call:
    client, ticket_id = await _ticket(api, db, settings)
    return Call(
        client,
        "mutation($id: ID!) { closeTicket(input: {ticketId: $id}) { ticket { id } userErrors { code } } }",
        {"id": ticket_id},
    )


def test_every_mutation_has_an_audit_scenario() -> None:
    mutation_type = schema._schema.mutation_type
    assert mutation_type is not None
    missing = set(mutation_type.fields) - set(SCENARIOS)
    assert not missing, f"mutations without an audit scenario in tests/test_audit.py: {sorted(missing)}"


@pytest.mark.parametrize("mutation", sorted(SCENARIOS))
async def test_the_mutation_writes_an_audit_event(
    api: Api, db: Database, settings: Settings, mutation: str
) -> None:
    call = await SCENARIOS[mutation](api, db, settings)
    request_id = f"audit-{mutation}"

    response = await call.client(call.query, call.variables, x_request_id=request_id)

    assert response.errors == []
    user_errors = (response.data[mutation] or {}).get("userErrors", [])
    assert user_errors == []
    async with db.read() as session:
        events = list(await session.scalars(select(AuditEvent).where(AuditEvent.request_id == request_id)))
    assert events, f"{mutation} wrote no audit event"
    for event in events:
        assert event.actor_id is not None
        assert event.credential in {"session", "token", "anonymous"}
        assert re.fullmatch(r"[a-z_]+\.[a-z_]+", event.action)
        assert event.subject_id is None or "token" not in event.subject_id.lower()
