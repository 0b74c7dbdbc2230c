class NoUsableContact(ValueError):
    """A contact with no valid email, phone or shop customer id that the junk guard lets
    through: it cannot name anyone, and no retry helps."""

    def __init__(self) -> None:
        super().__init__(
            "no usable identity: give a valid email, phone, or store_id with external_id "
            "(placeholder values such as test@test.com are not identities)"
        )
