"""HTTP routes under /api/auth, /api/me, /api/users and /api/admin/users."""

from __future__ import annotations

from aiohttp import web

from server import api, validate
from server.accounts import preferences, reset, service, store
from server.accounts.auth import require_user
from server.accounts.models import (
    Accepted,
    Avatar,
    ForgotIn,
    LoginIn,
    LogoutIn,
    Preferences,
    PreferencesIn,
    RefreshIn,
    RegisterIn,
    ResetIn,
    RoleIn,
    Session,
    User,
)
from server.clientip import client_ip
from server.errors import ApiError, not_found
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
    """Revoke the access token and (when given) its refresh family, or with `everywhere` every
    access token and refresh family of the account."""
    principal = await require_user(request)
    body = await api.body(request, LogoutIn)
    if body.everywhere:
        await service.logout_everywhere(request.app, principal)
    else:
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
        avatar = await preferences.avatar_url(conn, principal.user_id)
    return api.reply({**service.user_json(row), "avatar_url": avatar}, User)


@routes.post("/api/admin/users/{id}/role", name="admin_set_role")
@api.spec({200: User}, body=RoleIn, tag="accounts")
async def set_role(request: web.Request) -> web.Response:
    """Admins grant any role (moderator, admin) to an account."""
    admin = await require_user(request, "admin")
    user_id = validate.path_uuid(request)
    role = (await api.body(request, RoleIn)).role
    row = await service.change_role(request.app, user_id, role, admin.user_id, "api")
    return api.reply(service.user_json(row), User)


@routes.post("/api/auth/password/forgot", name="auth_password_forgot")
@api.spec({202: Accepted}, body=ForgotIn, public=True, tag="accounts")
async def password_forgot(request: web.Request) -> web.Response:
    """Mail a reset link if the address has an account; always 202, whatever the address."""
    body = await api.body(request, ForgotIn)
    await reset.forgot(request.app, body.email, client_ip(request))
    return api.reply(Accepted(accepted=True), status=202)


@routes.post("/api/auth/password/reset", name="auth_password_reset")
@api.spec({200: api.Ok}, body=ResetIn, public=True, tag="accounts")
async def password_reset(request: web.Request) -> web.Response:
    """Set a new password with a mailed token; every session of the account ends."""
    body = await api.body(request, ResetIn)
    await reset.reset(request.app, body.token, body.password, client_ip(request))
    return api.reply(api.Ok(ok=True))


@routes.get("/api/me/preferences", name="me_preferences")
@api.spec({200: Preferences}, tag="accounts")
async def get_preferences(request: web.Request) -> web.Response:
    """The caller's realm theme, notification settings and avatar URL."""
    principal = await require_user(request)
    async with request.app[DB].acquire() as conn:
        prefs = await preferences.get(conn, principal.user_id)
    return api.reply(prefs, Preferences)


@routes.patch("/api/me/preferences", name="me_preferences_update")
@api.spec({200: Preferences}, body=PreferencesIn, tag="accounts")
async def patch_preferences(request: web.Request) -> web.Response:
    """Change some preferences; the rest stay."""
    principal = await require_user(request)
    body = await api.body(request, PreferencesIn)
    notifications = (
        None if body.notifications is None else body.notifications.model_dump(exclude_none=True)
    )
    return api.reply(
        await preferences.update(request.app, principal.user_id, body.realm, notifications),
        Preferences,
    )


_IMAGE = {"type": "string", "format": "binary"}


@routes.put("/api/me/avatar", name="me_avatar")
@api.spec({200: Avatar}, tag="accounts")
async def put_avatar(request: web.Request) -> web.Response:
    """Upload an avatar (PNG, JPEG, WebP or GIF body, at most 5 MiB): stored as a square PNG."""
    principal = await require_user(request)
    cap = preferences.MAX_AVATAR_BYTES
    if request.content_length is not None and request.content_length > cap:
        raise ApiError(413, "too_large", f"an avatar is at most {cap} bytes")
    data = bytearray()
    async for chunk in request.content.iter_chunked(64 * 1024):
        data += chunk
        if len(data) > cap:
            raise ApiError(413, "too_large", f"an avatar is at most {cap} bytes")
    url = await preferences.set_avatar(request.app, principal.user_id, bytes(data))
    return api.reply(Avatar(avatar_url=url))


@routes.get("/api/users/{id}/avatar", name="user_avatar")
@api.spec({200: api.Media("image/png", _IMAGE)}, public=True, tag="accounts")
async def get_avatar(request: web.Request) -> web.Response:
    """An account's avatar (a 256 px square PNG)."""
    user_id = validate.path_uuid(request)
    async with request.app[DB].acquire() as conn:
        data = await preferences.avatar(conn, user_id)
    if data is None:
        raise not_found("avatar")
    return web.Response(
        body=data,
        content_type="image/png",
        headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"},
    )
