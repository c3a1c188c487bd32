"""POST, GET and DELETE /subscriptions: who hears about incidents, and how."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Response

from app.deps import ServicesDep, SessionDep, TenantDep
from app.notifications.schemas import SubscriptionCreate, SubscriptionOut
from app.notifications.signing import new_secret
from app.secret_policy import placeholder_reason
from store import notifications
from store.errors import NotFoundError
from store.notifications_models import Subscription
from store.types import utc_now

router = APIRouter(tags=["notifications"])


@router.post("/subscriptions", response_model=SubscriptionOut, status_code=201)
def create_subscription(
    body: SubscriptionCreate, session: SessionDep, tenant: TenantDep, services: ServicesDep
) -> SubscriptionOut:
    """Subscribe; a webhook's secret is in this answer only (generated when not given)."""
    reason = placeholder_reason(body.secret) if body.secret is not None else None
    if reason is not None and services.settings.env != "development":
        raise HTTPException(
            422, detail=f"secret: looks like a placeholder ({reason}); leave it out to get one"
        )
    satellite_id = None
    if body.satellite is not None:
        try:
            satellite_id = notifications.find_satellite(session, tenant, body.satellite).id
        except NotFoundError as error:
            raise HTTPException(422, detail=f"satellite: {error}") from None
    secret = (body.secret or new_secret()) if body.kind == "webhook" else None
    item = notifications.add_subscription(
        session,
        Subscription(
            tenant=tenant,
            satellite_id=satellite_id,
            kind=body.kind,
            target=body.target,
            secret=secret,
            min_severity=body.min_severity,
            digest_s=body.digest_s,
            report_period=body.report_period,
        ),
    )
    session.commit()
    return SubscriptionOut.of(item, show_secret=True)


@router.get(
    "/subscriptions", response_model=list[SubscriptionOut], openapi_extra={"x-scope": "admin"}
)
def list_subscriptions(session: SessionDep, tenant: TenantDep) -> list[SubscriptionOut]:
    """Subscriptions of the key's tenant; secrets are not shown."""
    return [SubscriptionOut.of(s) for s in notifications.list_subscriptions(session, tenant)]


@router.delete("/subscriptions/{subscription_id}", status_code=204, response_class=Response)
def delete_subscription(subscription_id: int, session: SessionDep) -> Response:
    """Unsubscribe; undelivered messages of the subscription are dead-lettered."""
    try:
        notifications.delete_subscription(session, subscription_id, utc_now())
    except NotFoundError as error:
        raise HTTPException(404, detail=str(error)) from None
    session.commit()
    return Response(status_code=204)
