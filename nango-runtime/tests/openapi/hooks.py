"""Schemathesis hooks of nango-runtime/tests/openapi.rs.

Keeps every request the service makes on loopback: a base URL that the service would call (the
`base_url` of a new connection, which its syncs and the proxy then use, and the proxy's
`Base-Url-Override`) is replaced by the mock provider's before the request is sent, whatever
Schemathesis generated, and a new connection without one gets the mock's (else the proxy would
call the provider's real API). Values the service refuses (not an http(s) URL) are left as they
are, so the service's checks are still exercised.

Teaches Schemathesis the document's own string formats (`nango-cursor`, `nango-frequency`), so
the values it generates for them are ones the service takes, as the document describes them.

Signs the console's forms: a valid form gets the console session's CSRF token (generated ones
are refused, 403, which the service's own tests prove). `POST /logout` and `DELETE
/connect/session` run under sessions of their own (made for them by the test), so that ending
theirs leaves the one every other operation uses.

Requests that leave out the key are not touched: the service refuses them (401) before it reads
anything else, and Schemathesis takes an edited request for a new one, sent with the key again.
"""

import base64
import os
from datetime import datetime, timezone

import schemathesis
from hypothesis import strategies as st

MOCK_URL = os.environ["NANGO_TEST_MOCK_URL"]
CONSOLE_SESSION = os.environ["NANGO_TEST_CONSOLE_SESSION"]
CONSOLE_CSRF = os.environ["NANGO_TEST_CONSOLE_CSRF"]
CONSOLE_SESSION_TO_END = os.environ["NANGO_TEST_CONSOLE_SESSION_TO_END"]
CONSOLE_CSRF_TO_END = os.environ["NANGO_TEST_CONSOLE_CSRF_TO_END"]
CONNECT_TOKEN = os.environ["NANGO_TEST_CONNECT_TOKEN"]
CONNECT_TOKEN_TO_END = os.environ["NANGO_TEST_CONNECT_TOKEN_TO_END"]


def _cursor(at, sequence, key):
    """A records cursor as `store::encode_cursor` writes one."""
    text = f"{at.strftime('%Y-%m-%dT%H:%M:%S.%f')}+00:00||{sequence}.{key}"
    return base64.b64encode(text.encode()).decode()


schemathesis.openapi.format(
    "nango-cursor",
    st.builds(
        _cursor,
        st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)),
        st.integers(0, 2**62),
        st.integers(0, 2**62),
    ),
)

# nango.yaml's `runs:` grammar (nango_types::frequency), 30 seconds to 366 days.
_UNITS = {"seconds": (30, 86_400), "minutes": (1, 1_440), "hours": (1, 8_784), "days": (1, 366), "weeks": (1, 52)}
schemathesis.openapi.format(
    "nango-frequency",
    st.one_of(
        st.sampled_from(["every hour", "every day", "every week", "every month", "every half hour", "every half day"]),
        st.sampled_from(sorted(_UNITS)).flatmap(
            lambda unit: st.integers(*_UNITS[unit]).map(lambda n: f"every {n} {unit}")
        ),
    ),
)


def _would_be_called(value):
    """Whether the service could take `value` as an http(s) URL (URL parsers drop whitespace
    and control characters, so those are ignored here too)."""
    if not isinstance(value, str):
        return False
    kept = "".join(ch for ch in value if ch > " " and ch != "\x7f").lower()
    return kept.startswith("http")


def _leaves_out_the_key(case):
    """Whether the case is Schemathesis' probe of a request without `Authorization`."""
    data = getattr(getattr(case.meta, "phase", None), "data", None)
    parameter = getattr(data, "parameter", None)
    return isinstance(parameter, str) and parameter.lower() == "authorization"


def _sign_console_form(case):
    """The session's CSRF token in a valid console form; `/logout` under its own session."""
    ends_session = case.operation.path == "/logout"
    if ends_session and case.cookies and case.cookies.get("nango_session") == CONSOLE_SESSION:
        case.cookies["nango_session"] = CONSOLE_SESSION_TO_END
    if isinstance(case.body, dict) and "csrf" in case.body and case.meta.generation.mode.is_positive:
        case.body["csrf"] = CONSOLE_CSRF_TO_END if ends_session else CONSOLE_CSRF


def _end_own_connect_session(case):
    """`DELETE /connect/session` with the token of a session made to be ended."""
    if case.operation.path != "/connect/session" or case.method.upper() != "DELETE":
        return
    for name in list(case.headers or {}):
        if name.lower() == "authorization" and case.headers[name] == f"Bearer {CONNECT_TOKEN}":
            case.headers[name] = f"Bearer {CONNECT_TOKEN_TO_END}"
    if case.query and case.query.get("connect_session_token") == CONNECT_TOKEN:
        case.query["connect_session_token"] = CONNECT_TOKEN_TO_END


@schemathesis.hook
def before_call(context, case, kwargs):
    if _leaves_out_the_key(case):
        return
    if case.operation.path == "/logout" or case.operation.path.startswith("/console/"):
        _sign_console_form(case)
    _end_own_connect_session(case)
    if case.headers:
        for name in list(case.headers):
            if name.lower() == "base-url-override" and _would_be_called(case.headers[name]):
                case.headers[name] = MOCK_URL
    # Only a valid new connection is stored, so only a valid body is edited (Schemathesis keeps
    # judging an edited body by what it generated; the service refuses an invalid one before it
    # calls anything).
    if (
        case.operation.path == "/connection"
        and case.method.upper() == "POST"
        and isinstance(case.body, dict)
        and case.meta.generation.mode.is_positive
    ):
        given = case.body.get("base_url")
        if given is None or _would_be_called(given):
            case.body["base_url"] = MOCK_URL
