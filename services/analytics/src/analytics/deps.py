from typing import Annotated

from crm_common.access import CurrentPrincipal
from crm_common.runtime import PostgresRuntime
from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from analytics.predictions.refresh import Refitter


def get_sessions(request: Request) -> async_sessionmaker[AsyncSession]:
    runtime: PostgresRuntime = request.app.state.runtime
    return runtime.sessions


SessionsDep = Annotated[async_sessionmaker[AsyncSession], Depends(get_sessions)]


def get_refitter(request: Request) -> Refitter:
    refitter: Refitter = request.app.state.refitter
    return refitter


RefitterDep = Annotated[Refitter, Depends(get_refitter)]
# Roles are checked by the service's access matrix (access.py), before the route runs.
Caller = CurrentPrincipal
