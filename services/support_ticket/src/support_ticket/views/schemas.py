from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from support_ticket.views.models import ViewFilters

Name = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^\x00]*$")]
Status = Annotated[str, StringConstraints(pattern=r"^(new|open|pending|on_hold|solved|closed)$")]
Filter = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^\x00]*$")]


class ViewFiltersIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    store_id: Filter | None = None
    status: list[Status] = Field(default_factory=list, max_length=6)
    assignee_id: Filter | None = None
    group_id: Filter | None = None
    customer_id: Filter | None = None
    tag: Filter | None = None
    q: Filter | None = None


class ViewCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    filters: ViewFiltersIn = Field(default_factory=ViewFiltersIn)


class ViewRead(BaseModel):
    view_id: str
    name: str
    filters: ViewFilters


class ViewList(BaseModel):
    views: list[ViewRead]
