"""HTTP routes under /api/auth and /api/admin/users."""

from __future__ import annotations

from aiohttp import web

from server import api, validate
from server.accounts import service, store
from server.accounts.auth import require_user
from server.accounts.models import LoginIn, LogoutIn, RefreshIn, RegisterIn, RoleIn, Session, User
from server.clientip import client_ip
from server.errors import not_found
from server.keys import DB

routes = web.RouteTableDef()


@routes.post("/api/auth/register", name="auth_register")
@api.spec({201: Session}, body=RegisterIn, public=True, tag="accounts")
async def register(request: web.Request) -> web.Response:
    """Create a fan or artist account; returns tokens like login."""
    body = await api.body(request, RegisterIn)
    display_name = body.display_name or body.email.split("@", 1)[0][:80] or "fan"
    session = await service.register(
        request.app, body.email, body.password, display_name, body.role, client_ip(request)
    )
    return api.reply(session, Session, status=201)


@routes.post("/api/auth/login", name="auth_login")
@api.spec({200: Session}, body=LoginIn, public=True, tag="accounts")
async def login(request: web.Request) -> web.Response:
    """Exchange email and password for {access, refresh, user}."""
    body = await api.body(request, LoginIn)
    return api.reply(
        await service.login(request.app, body.email, body.password, client_ip(request)), Session
    )


@routes.post("/api/auth/refresh", name="auth_refresh")
@api.spec({200: Session}, body=RefreshIn, public=True, tag="accounts")
async def refresh(request: web.Request) -> web.Response:
    """Rotate a refresh token into a new access + refresh pair."""
    body = await api.body(request, RefreshIn)
    return api.reply(await service.refresh(request.app, body.refresh), Session)


@routes.post("/api/auth/logout", name="auth_logout")
@api.spec({200: api.Ok}, body=LogoutIn, body_required=False, tag="accounts")
async def logout(request: web.Request) -> web.Response:
    """Revoke the access token and (when given) its refresh family."""
    principal = await require_user(request)
    body = await api.body(request, LogoutIn)
    await service.logout(request.app, principal, body.refresh)
    return api.reply(api.Ok(ok=True))


@routes.get("/api/auth/me", name="auth_me")
@api.spec({200: User}, tag="accounts")
async def me(request: web.Request) -> web.Response:
    """The caller's account."""
    principal = await require_user(request)
    async with request.app[DB].acquire() as conn:
        row = await store.user_by_id(conn, principal.user_id)
    if row is None:
        raise not_found("user")
    return api.reply(service.user_json(row), User)


@routes.post("/api/admin/users/{id}/role", name="admin_set_role")
@api.spec({200: User}, body=RoleIn, tag="accounts")
async def set_role(request: web.Request) -> web.Response:
    """Admins grant any role (moderator, admin) to an account."""
    admin = await require_user(request, "admin")
    user_id = validate.path_uuid(request)
    role = (await api.body(request, RoleIn)).role
    row = await service.change_role(request.app, user_id, role, admin.user_id, "api")
    return api.reply(service.user_json(row), User)
