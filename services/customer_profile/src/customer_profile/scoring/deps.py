from typing import Annotated

from fastapi import Depends, Request

from customer_profile.scoring.rules import ScoringRules


async def get_scoring_rules(request: Request) -> ScoringRules:
    rules: ScoringRules = request.app.state.scoring_rules
    return rules


ScoringRulesDep = Annotated[ScoringRules, Depends(get_scoring_rules)]
