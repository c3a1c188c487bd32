"""Typed dependencies shared by the routes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlmodel import Session

from app.runtime import Services


def get_services(request: Request) -> Services:
    """The services built at start-up."""
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def get_session(services: ServicesDep) -> Iterator[Session]:
    """A database session for one request."""
    with Session(services.engine) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]
