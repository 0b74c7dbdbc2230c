from typing import Annotated

from crm_common.access import CurrentPrincipal, SeesPersonalData
from crm_common.runtime import PostgresRuntime
from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker


def get_sessions(request: Request) -> async_sessionmaker[AsyncSession]:
    runtime: PostgresRuntime = request.app.state.runtime
    return runtime.sessions


SessionsDep = Annotated[async_sessionmaker[AsyncSession], Depends(get_sessions)]
# Roles are checked by the service's access matrix (access.py), before the route runs.
Caller = CurrentPrincipal
PersonalDataDep = SeesPersonalData
