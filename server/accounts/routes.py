"""HTTP routes under /api/auth and /api/admin/users."""

from __future__ import annotations

from aiohttp import web

from server import validate
from server.accounts import service, store
from server.accounts.auth import require_user
from server.accounts.tokens import ROLES
from server.clientip import client_ip
from server.errors import bad_request, not_found
from server.keys import DB

routes = web.RouteTableDef()


@routes.post("/api/auth/register", name="auth_register")
async def register(request: web.Request) -> web.Response:
    """Create a fan or artist account; returns tokens like login."""
    body = await validate.read_json(request)
    email = validate.text(body, "email", max_len=254)
    if not service.valid_email(email):
        raise bad_request("email is not a valid address", "invalid_field")
    password = body.get("password")
    if not isinstance(password, str) or not 8 <= len(password) <= 256:
        raise bad_request("password must be 8-256 characters", "invalid_field")
    display_name = validate.text(body, "display_name", max_len=80, required=False,
                                 default=email.split("@", 1)[0][:80] or "fan")
    role = body.get("role", "fan")
    if role not in service.SELF_SERVICE_ROLES:
        raise bad_request("role must be 'fan' or 'artist'", "invalid_field")
    session = await service.register(request.app, email, password, display_name, role,
                                     client_ip(request))
    return web.json_response(session, status=201)


@routes.post("/api/auth/login", name="auth_login")
async def login(request: web.Request) -> web.Response:
    """Exchange email and password for {access, refresh, user}."""
    body = await validate.read_json(request)
    email = validate.text(body, "email", max_len=254)
    password = body.get("password")
    if not isinstance(password, str) or not password or len(password) > 256:
        raise bad_request("password is required", "invalid_field")
    return web.json_response(await service.login(request.app, email, password, client_ip(request)))


@routes.post("/api/auth/refresh", name="auth_refresh")
async def refresh(request: web.Request) -> web.Response:
    """Rotate a refresh token into a new access + refresh pair."""
    body = await validate.read_json(request)
    token = validate.text(body, "refresh", max_len=128)
    return web.json_response(await service.refresh(request.app, token))


@routes.post("/api/auth/logout", name="auth_logout")
async def logout(request: web.Request) -> web.Response:
    """Revoke the access token and (when given) its refresh family."""
    principal = await require_user(request)
    token = None
    if request.can_read_body:
        body = await validate.read_json(request)
        token = validate.text(body, "refresh", max_len=128, required=False) or None
    await service.logout(request.app, principal, token)
    return web.json_response({"ok": True})


@routes.get("/api/auth/me", name="auth_me")
async def me(request: web.Request) -> web.Response:
    """The caller's account."""
    principal = await require_user(request)
    async with request.app[DB].acquire() as conn:
        row = await store.user_by_id(conn, principal.user_id)
    if row is None:
        raise not_found("user")
    return web.json_response(service.user_json(row))


@routes.post("/api/admin/users/{id}/role", name="admin_set_role")
async def set_role(request: web.Request) -> web.Response:
    """Admins grant any role (moderator, admin) to an account."""
    admin = await require_user(request, "admin")
    user_id = validate.path_uuid(request)
    body = await validate.read_json(request)
    role = body.get("role")
    if role not in ROLES:
        raise bad_request(f"role must be one of {', '.join(ROLES)}", "invalid_field")
    row = await service.change_role(request.app, user_id, role, admin.user_id, "api")
    return web.json_response(service.user_json(row))
