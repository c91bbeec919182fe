"""The server's URL policy: it lives in `deecho.urls.policy`, shared with the CLI's URL input.

Re-exported here because the server's modules and tests name it from here.
"""

from deecho.urls.policy import (
    FetchError,
    Resolver,
    UnsafeUrlError,
    UrlPolicy,
    check_url,
    fetch_to_file,
    guarded_request,
    system_resolver,
)

__all__ = [
    "FetchError",
    "Resolver",
    "UnsafeUrlError",
    "UrlPolicy",
    "check_url",
    "fetch_to_file",
    "guarded_request",
    "system_resolver",
]
