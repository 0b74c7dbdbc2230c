"""The base of every contract model."""

from pydantic import BaseModel, ConfigDict


class ContractModel(BaseModel):
    """Keeps unknown fields (a newer producer's additions survive a hop through an older service)
    and turns attribute docstrings into JSON Schema descriptions."""

    model_config = ConfigDict(extra="allow", use_attribute_docstrings=True)
