from datetime import datetime

from crm_common.access import mask_email, mask_phone, mask_text
from pydantic import BaseModel


class CustomerRead(BaseModel):
    customer_id: str
    email: str | None
    phone: str | None
    first_name: str | None
    last_name: str | None
    merged_into: str | None
    erased: bool
    updated_at: datetime

    def masked(self) -> "CustomerRead":
        """As shown to a role without the personal-data right (access.py)."""
        return self.model_copy(
            update={
                "email": mask_email(self.email),
                "phone": mask_phone(self.phone),
                "first_name": mask_text(self.first_name),
                "last_name": mask_text(self.last_name),
            }
        )
