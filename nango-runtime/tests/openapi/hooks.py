"""Schemathesis hooks of nango-runtime/tests/openapi.rs.

Keeps every request the service makes on loopback: a base URL that the service would call (the
`base_url` of a new connection, which its syncs and the proxy then use, and the proxy's
`Base-Url-Override`) is replaced by the mock provider's before the request is sent, whatever
Schemathesis generated. Values the service refuses (not an http(s) URL) are left as they are,
so the service's checks are still exercised.
"""

import os

import schemathesis

MOCK_URL = os.environ["NANGO_TEST_MOCK_URL"]


def _would_be_called(value):
    """Whether the service could take `value` as an http(s) URL (URL parsers drop whitespace
    and control characters, so those are ignored here too)."""
    if not isinstance(value, str):
        return False
    kept = "".join(ch for ch in value if ch > " " and ch != "\x7f").lower()
    return kept.startswith("http")


@schemathesis.hook
def before_call(context, case, kwargs):
    if case.headers:
        for name in list(case.headers):
            if name.lower() == "base-url-override" and _would_be_called(case.headers[name]):
                case.headers[name] = MOCK_URL
    if isinstance(case.body, dict) and _would_be_called(case.body.get("base_url")):
        case.body["base_url"] = MOCK_URL
