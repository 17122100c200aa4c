"""Accounts: organisations, users, sign-in sessions, CSRF and org API keys.

Routes live in ``shared.accounts.routes`` (``accounts_router``); import it from there so this
package stays light for services that only need the dependencies.
"""

from shared.accounts.deps import (
    CsrfDep,
    OptionalSessionDep,
    SessionDep,
    current_session,
    require_csrf,
)
from shared.accounts.keys import OrgKey, create_org_key, list_org_keys, org_tenant, revoke_org_key
from shared.accounts.orgs import PRODUCTS, create_org, link_tenant, org_for_tenant
from shared.accounts.sessions import Session
from shared.accounts.users import EmailTaken, User, authenticate, create_user

__all__ = [
    "PRODUCTS",
    "CsrfDep",
    "EmailTaken",
    "OptionalSessionDep",
    "OrgKey",
    "Session",
    "SessionDep",
    "User",
    "authenticate",
    "create_org",
    "create_org_key",
    "create_user",
    "current_session",
    "link_tenant",
    "list_org_keys",
    "org_for_tenant",
    "org_tenant",
    "require_csrf",
    "revoke_org_key",
]
