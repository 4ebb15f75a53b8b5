"""Payment providers: the interface, Stripe, and a development provider.

The app acts only on payment state it fetched from the provider itself (never on a webhook
body), so duplicated, forged-but-signed-stale or reordered notifications cannot mislead it.
"""

from __future__ import annotations

import secrets
import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import stripe
from aiohttp import web

from server.keys import DB
from ticketing import store

# Normalised payment states.
PENDING = "pending"  # waiting for the buyer (no attempt yet, or needs action)
PROCESSING = "processing"  # the provider is still deciding
SUCCEEDED = "succeeded"
FAILED = "failed"  # the last attempt was declined
CANCELED = "canceled"


class PaymentError(Exception):
    """The provider could not be reached or refused the call; nothing was changed here."""


@dataclass(frozen=True)
class Payment:
    """A payment as the provider reports it."""

    id: str
    status: str
    amount: int
    currency: str
    ticket_id: uuid.UUID | None
    client_secret: str | None = None
    tip_id: uuid.UUID | None = None


@dataclass(frozen=True)
class ChargeState:
    """How much of a charge was refunded."""

    id: str
    payment_id: str | None
    amount: int
    amount_refunded: int


@dataclass(frozen=True)
class DisputeState:
    """A chargeback and its outcome ('lost', 'won', or still open)."""

    id: str
    payment_id: str | None
    charge_id: str | None
    status: str


class PaymentProvider(ABC):
    """What ticketing needs from a payment service."""

    name: str
    label: str

    @abstractmethod
    async def create(
        self,
        *,
        amount: int,
        currency: str,
        ticket_id: uuid.UUID,
        event_id: uuid.UUID,
        idempotency_key: str,
    ) -> Payment:
        """Start a payment the buyer then confirms."""

    @abstractmethod
    async def create_tip(
        self,
        *,
        amount: int,
        currency: str,
        tip_id: uuid.UUID,
        artist_id: uuid.UUID,
        idempotency_key: str,
    ) -> Payment:
        """Start a tip's payment the fan then confirms (the dev provider's is confirmed by
        `confirm`)."""

    @abstractmethod
    async def retrieve(self, payment_id: str) -> Payment:
        """The payment's current state."""

    @abstractmethod
    async def cancel(self, payment_id: str) -> Payment:
        """Cancel a payment that has not succeeded (PaymentError if it cannot be)."""

    @abstractmethod
    async def refund(self, payment_id: str, *, idempotency_key: str, reason: str) -> str:
        """Refund a succeeded payment in full; returns the refund id.

        Every call for one ticket uses the same idempotency key whatever path asks, so the
        parameters sent must not vary with `reason` (the provider would refuse the retry);
        the reason is for the app's own records.
        """

    @abstractmethod
    async def retrieve_charge(self, charge_id: str) -> ChargeState:
        """A charge's refund state."""

    @abstractmethod
    async def retrieve_dispute(self, dispute_id: str) -> DisputeState:
        """A dispute's state."""

    async def close(self) -> None:  # noqa: B027 - optional: most providers hold nothing
        """Release connections."""


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def stripe_status(pi: dict[str, Any]) -> str:
    """Map a PaymentIntent's status onto the normalised states."""
    status = pi.get("status")
    if status == "succeeded":
        return SUCCEEDED
    if status == "canceled":
        return CANCELED
    if status == "processing":
        return PROCESSING
    if status == "requires_payment_method" and pi.get("last_payment_error"):
        return FAILED
    return PENDING


class StripeProvider(PaymentProvider):
    """Stripe PaymentIntents through the official library, asynchronously (aiohttp)."""

    name = "stripe"
    label = "Stripe"

    def __init__(self, secret_key: str, api_base: str | None = None, timeout: float = 20) -> None:
        self._http = stripe.AIOHTTPClient(timeout=timeout)
        self._client = stripe.StripeClient(
            secret_key,
            base_addresses={"api": api_base} if api_base else None,
            http_client=self._http,
            max_network_retries=2,
        )

    @property
    def client(self) -> stripe.StripeClient:
        """The Stripe client (Billing objects are driven through it by subscriptions)."""
        return self._client

    @staticmethod
    def _payment(obj: Any) -> Payment:
        pi = obj.to_dict()
        metadata = pi.get("metadata") or {}
        return Payment(
            id=pi["id"],
            status=stripe_status(pi),
            amount=int(pi["amount"]),
            currency=str(pi["currency"]).upper(),
            ticket_id=_uuid(metadata.get("ticket_id")),
            client_secret=pi.get("client_secret"),
            tip_id=_uuid(metadata.get("tip_id")) if metadata.get("tip_id") else None,
        )

    async def create(
        self,
        *,
        amount: int,
        currency: str,
        ticket_id: uuid.UUID,
        event_id: uuid.UUID,
        idempotency_key: str,
    ) -> Payment:
        # ids only: nothing personal goes to the payment provider's metadata
        metadata = {"ticket_id": str(ticket_id), "event_id": str(event_id)}
        return await self._intent(amount, currency, metadata, idempotency_key)

    async def create_tip(
        self,
        *,
        amount: int,
        currency: str,
        tip_id: uuid.UUID,
        artist_id: uuid.UUID,
        idempotency_key: str,
    ) -> Payment:
        metadata = {"tip_id": str(tip_id), "artist_id": str(artist_id)}
        return await self._intent(amount, currency, metadata, idempotency_key)

    async def _intent(
        self, amount: int, currency: str, metadata: dict[str, str], idempotency_key: str
    ) -> Payment:
        try:
            pi = await self._client.v1.payment_intents.create_async(
                params={"amount": amount, "currency": currency.lower(), "metadata": metadata},
                options={"idempotency_key": idempotency_key},
            )
        except stripe.StripeError as exc:
            raise PaymentError(f"stripe: {exc.user_message or exc}") from None
        return self._payment(pi)

    async def retrieve(self, payment_id: str) -> Payment:
        try:
            return self._payment(await self._client.v1.payment_intents.retrieve_async(payment_id))
        except stripe.StripeError as exc:
            raise PaymentError(f"stripe: {exc.user_message or exc}") from None

    async def cancel(self, payment_id: str) -> Payment:
        try:
            return self._payment(await self._client.v1.payment_intents.cancel_async(payment_id))
        except stripe.StripeError as exc:
            raise PaymentError(f"stripe: {exc.user_message or exc}") from None

    async def refund(self, payment_id: str, *, idempotency_key: str, reason: str) -> str:
        try:
            refund = await self._client.v1.refunds.create_async(
                params={"payment_intent": payment_id}, options={"idempotency_key": idempotency_key}
            )
        except stripe.StripeError as exc:
            raise PaymentError(f"stripe: {exc.user_message or exc}") from None
        return str(refund.id)

    async def retrieve_charge(self, charge_id: str) -> ChargeState:
        try:
            ch = (await self._client.v1.charges.retrieve_async(charge_id)).to_dict()
        except stripe.StripeError as exc:
            raise PaymentError(f"stripe: {exc.user_message or exc}") from None
        pi = ch.get("payment_intent")
        return ChargeState(
            ch["id"],
            pi if isinstance(pi, str) or pi is None else pi["id"],
            int(ch["amount"]),
            int(ch.get("amount_refunded") or 0),
        )

    async def retrieve_dispute(self, dispute_id: str) -> DisputeState:
        try:
            dp = (await self._client.v1.disputes.retrieve_async(dispute_id)).to_dict()
        except stripe.StripeError as exc:
            raise PaymentError(f"stripe: {exc.user_message or exc}") from None
        pi, charge = dp.get("payment_intent"), dp.get("charge")
        return DisputeState(
            dp["id"],
            pi if isinstance(pi, str) or pi is None else pi["id"],
            charge if isinstance(charge, str) or charge is None else charge["id"],
            str(dp.get("status")),
        )

    async def close(self) -> None:
        await self._http.close_async()  # type: ignore[no-untyped-call]


class DevPaymentProvider(PaymentProvider):
    """DEVELOPMENT ONLY: no money moves. Used when no Stripe key is configured, so a local
    stack sells tickets end to end; the buyer "pays" with POST /api/payments/dev/{id}/confirm.
    """

    name = "dev"
    label = "development payments (no money moves)"

    def __init__(self, app: web.Application) -> None:
        self._app = app

    @staticmethod
    def _payment(row: Any) -> Payment:
        status = {
            "requires_confirmation": PENDING,
            "succeeded": SUCCEEDED,
            "failed": FAILED,
            "canceled": CANCELED,
        }[row["status"]]
        return Payment(
            row["id"],
            status,
            int(row["amount_minor"]),
            row["currency"].strip(),
            row["ticket_id"],
            client_secret=f"{row['id']}_secret_dev",
        )

    async def create(
        self,
        *,
        amount: int,
        currency: str,
        ticket_id: uuid.UUID,
        event_id: uuid.UUID,
        idempotency_key: str,
    ) -> Payment:
        async with self._app[DB].acquire() as conn:
            row = await store.dev_insert(
                conn, "devpi_" + secrets.token_hex(12), ticket_id, amount, currency, idempotency_key
            )
        return self._payment(row)

    async def create_tip(
        self,
        *,
        amount: int,
        currency: str,
        tip_id: uuid.UUID,
        artist_id: uuid.UUID,
        idempotency_key: str,
    ) -> Payment:
        async with self._app[DB].acquire() as conn:
            # The dev table's owner column takes any id: a tip's here.
            row = await store.dev_insert(
                conn, "devpi_" + secrets.token_hex(12), tip_id, amount, currency, idempotency_key
            )
        return self._payment(row)

    async def _get(self, payment_id: str) -> Any:
        async with self._app[DB].acquire() as conn:
            row = await store.dev_get(conn, payment_id)
        if row is None:
            raise PaymentError(f"dev: no such payment {payment_id}")
        return row

    async def retrieve(self, payment_id: str) -> Payment:
        return self._payment(await self._get(payment_id))

    async def confirm(self, payment_id: str, succeed: bool = True) -> Payment:
        """The buyer's "payment" (dev only): succeed, or fail like a declined card."""
        async with self._app[DB].acquire() as conn:
            row = await store.dev_set_status(
                conn,
                payment_id,
                ("requires_confirmation", "failed"),
                "succeeded" if succeed else "failed",
            )
        return self._payment(row if row is not None else await self._get(payment_id))

    async def cancel(self, payment_id: str) -> Payment:
        async with self._app[DB].acquire() as conn:
            row = await store.dev_set_status(
                conn, payment_id, ("requires_confirmation", "failed"), "canceled"
            )
        if row is None:
            current = await self._get(payment_id)
            if current["status"] != "canceled":
                raise PaymentError(f"dev: payment is {current['status']}, cannot cancel")
            row = current
        return self._payment(row)

    async def refund(self, payment_id: str, *, idempotency_key: str, reason: str) -> str:
        async with self._app[DB].acquire() as conn:
            row = await store.dev_refund(conn, payment_id)
        if row is None:
            raise PaymentError("dev: only succeeded payments can be refunded")
        return f"devre_{payment_id}"

    async def retrieve_charge(self, charge_id: str) -> ChargeState:
        row = await self._get(charge_id)
        return ChargeState(
            row["id"], row["id"], int(row["amount_minor"]), int(row["refunded_minor"])
        )

    async def retrieve_dispute(self, dispute_id: str) -> DisputeState:
        raise PaymentError("dev: the development provider has no disputes")


def build(app: web.Application, cfg: Any) -> PaymentProvider:
    """The provider the config selects."""
    if cfg.provider == "stripe":
        return StripeProvider(cfg.stripe_secret_key, cfg.stripe_api_base)
    return DevPaymentProvider(app)
