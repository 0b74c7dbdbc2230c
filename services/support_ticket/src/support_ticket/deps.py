from typing import Annotated, Any

from crm_common.access import CurrentPrincipal, SeesPersonalData
from crm_common.runtime import MongoRuntime
from fastapi import Depends, Request
from pymongo.asynchronous.database import AsyncDatabase

from support_ticket.config import Settings


def get_database(request: Request) -> AsyncDatabase[dict[str, Any]]:
    runtime: MongoRuntime = request.app.state.runtime
    return runtime.database


DatabaseDep = Annotated[AsyncDatabase[dict[str, Any]], Depends(get_database)]
# Roles are checked by the service's access matrix (access.py), before the route runs.
Caller = CurrentPrincipal
PersonalDataDep = SeesPersonalData


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_settings)]
