"""Languages: Simplified Chinese first (zh_CN, the default), English second.

Tables of codes hold English msgids marked with `N_`, translated when they are shown; the
request's language and its catalogue are decided in `i18n.language`. This package sits beneath
every domain: it imports none of them, and `N_` imports nothing at all, so pure rule modules may
mark their words too.
"""


def N_(msgid: str) -> str:  # noqa: N802 - the conventional name of the extraction marker
    """Mark a string for extraction (`pybabel -k N_`) without translating it yet."""
    return msgid
