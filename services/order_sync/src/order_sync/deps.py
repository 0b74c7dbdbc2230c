from typing import Annotated

from crm_common.access import CurrentPrincipal
from crm_common.runtime import PostgresRuntime
from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from order_sync.config import Settings
from order_sync.orders.intake import OrderIntake
from order_sync.webhooks.applier import DeliveryApplier


def get_runtime(request: Request) -> PostgresRuntime:
    runtime: PostgresRuntime = request.app.state.runtime
    return runtime


def get_sessions(request: Request) -> async_sessionmaker[AsyncSession]:
    return get_runtime(request).sessions


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_intake(request: Request) -> OrderIntake:
    intake: OrderIntake = request.app.state.order_intake
    return intake


def get_applier(request: Request) -> DeliveryApplier:
    applier: DeliveryApplier = request.app.state.webhook_applier
    return applier


IntakeDep = Annotated[OrderIntake, Depends(get_intake)]
ApplierDep = Annotated[DeliveryApplier, Depends(get_applier)]
SessionsDep = Annotated[async_sessionmaker[AsyncSession], Depends(get_sessions)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
# Roles are checked by the service's access matrix (access.py), before the route runs.
Caller = CurrentPrincipal
