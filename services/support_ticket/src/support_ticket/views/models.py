from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

COLLECTION = "views"


class ViewFilters(BaseModel):
    model_config = ConfigDict(extra="forbid")

    store_id: str | None = None
    status: list[str] = Field(default_factory=list)
    assignee_id: str | None = None
    group_id: str | None = None
    customer_id: str | None = None
    tag: str | None = None
    q: str | None = None


class View(BaseModel):
    model_config = ConfigDict(validate_by_name=True, validate_by_alias=True)

    view_id: str = Field(alias="_id")
    owner: str
    """The token subject of the agent who saved it."""
    name: str
    filters: ViewFilters
    created_at: datetime
