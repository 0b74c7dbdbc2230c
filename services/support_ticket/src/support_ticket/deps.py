from typing import Annotated, Any

from crm_common.auth import READERS, Principal, Role, requires
from crm_common.runtime import MongoRuntime
from fastapi import Depends, Request
from pymongo.asynchronous.database import AsyncDatabase


def get_database(request: Request) -> AsyncDatabase[dict[str, Any]]:
    runtime: MongoRuntime = request.app.state.runtime
    return runtime.database


DatabaseDep = Annotated[AsyncDatabase[dict[str, Any]], Depends(get_database)]
Reader = Annotated[Principal, Depends(requires(*READERS))]
Agent = Annotated[Principal, Depends(requires(Role.AGENT))]
