from typing import Annotated, Any

from fastapi import APIRouter, Query

from analytics.deps import RefitterDep, SessionsDep
from analytics.predictions import repository
from analytics.predictions.exceptions import NoModel, NoPredictions
from analytics.predictions.schemas import (
    CustomerPredictionsRead,
    FitRequest,
    ModelCardRead,
    PredictionRead,
)

models_router = APIRouter(prefix="/v1/models", tags=["predictions"])
customers_router = APIRouter(prefix="/v1/customers", tags=["predictions"])
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "not found"}}


@models_router.post("/clv:fit", responses={404: {"description": "the store has no orders"}})
async def fit_clv(body: FitRequest, refitter: RefitterDep) -> ModelCardRead:
    """Fit the store's lifetime-value models and answer with the model card."""
    return await refitter.refit(body.store_id, body.observed_until)


@models_router.get("/clv", responses=_NOT_FOUND)
async def read_clv_model(
    store_id: Annotated[str, Query(min_length=1)], sessions: SessionsDep
) -> ModelCardRead:
    """The store's current lifetime-value model card."""
    async with sessions() as session:
        card = await repository.current_card(session=session, store_id=store_id)
    if card is None:
        raise NoModel(store_id)
    return ModelCardRead.model_validate(card.card)


@customers_router.get("/{customer_id}/predictions", responses=_NOT_FOUND)
async def read_predictions(customer_id: str, sessions: SessionsDep) -> CustomerPredictionsRead:
    """The customer's latest predictions, one per store they bought in."""
    async with sessions() as session:
        found = await repository.predictions_of(session=session, customer_id=customer_id)
    if not found:
        raise NoPredictions(customer_id)
    return CustomerPredictionsRead(
        customer_id=customer_id,
        predictions=[PredictionRead.model_validate(p, from_attributes=True) for p in found],
    )
