from typing import Annotated

from crm_common.access import CurrentPrincipal, SeesPersonalData
from crm_common.runtime import PostgresRuntime
from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from customer_profile.config import Settings
from customer_profile.customers.policy import IdentityPolicy


# The dependencies are `async def` although they await nothing: FastAPI runs a plain `def`
# dependency in a worker thread, a hand-off that costs more than these lookups.
async def get_sessions(request: Request) -> async_sessionmaker[AsyncSession]:
    runtime: PostgresRuntime = request.app.state.runtime
    return runtime.sessions


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_policy(request: Request) -> IdentityPolicy:
    policy: IdentityPolicy = request.app.state.policy
    return policy


SessionsDep = Annotated[async_sessionmaker[AsyncSession], Depends(get_sessions)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
PolicyDep = Annotated[IdentityPolicy, Depends(get_policy)]
# Roles are checked by the service's access matrix (access.py), before the route runs.
Caller = CurrentPrincipal
PersonalDataDep = SeesPersonalData
