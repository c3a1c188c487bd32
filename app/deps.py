"""Typed dependencies shared by the routes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlmodel import Session

from app.auth import Principal, current_principal
from app.runtime import Services
from store.tenancy import scope_session


def get_services(request: Request) -> Services:
    """The services built at start-up."""
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]
PrincipalDep = Annotated[Principal, Depends(current_principal)]


def get_tenant(principal: PrincipalDep) -> str:
    """The tenant of the request's key: the only tenant whose data the request may see."""
    return principal.tenant


TenantDep = Annotated[str, Depends(get_tenant)]


def get_session(services: ServicesDep, tenant: TenantDep) -> Iterator[Session]:
    """A database session for one request, seeing only the request's tenant."""
    with Session(services.engine) as session:
        yield scope_session(session, tenant)


SessionDep = Annotated[Session, Depends(get_session)]
