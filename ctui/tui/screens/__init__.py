"""Modal forms and full screens of the control room, one per module."""
