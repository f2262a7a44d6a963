"""The errors every domain raises for a request that breaks a rule: their message is shown."""


class ServiceError(Exception):
    """A request that breaks a rule; the message (translated) is shown to the user, and nothing
    the request did is kept."""


class Conflict(ServiceError):
    """Someone else changed the record first; nothing was changed."""
