"""The readings API against its OpenAPI document, by schemathesis.

Requests are generated from the document the app serves (alerts/openapi.json at
/api/v1/openapi.json): batches the document allows and batches it does not, with headers and
bodies bent out of shape. Each is sent in-process to the app (WSGI, on the test's database)
with a real station's token, and each answer is checked by schemathesis's built-in checks: no
server error; a status code, content type and body the document describes; a request without
the token refused; a batch the document forbids refused.
"""

import schemathesis
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig

EXAMPLES = 60  # a few seconds per database; runs of 300 found nothing more (2026-12)

CONFIG = SchemathesisConfig.from_dict(
    {
        "checks": {
            # A batch the document allows may still have every item refused: a reading's time
            # must lie in a window that moves with the clock (not ahead of it, at most 400 days
            # back) and its value under the pollutant's plausible limit, which the document
            # says in words (JSON Schema cannot state the first). That answer is 422, with the
            # reason for each item, as documented.
            "positive_data_acceptance": {"expected-statuses": ["2xx", "422"]},
            # What the document forbids is refused with one of its own refusals; more than
            # 1,000 readings is 413 (as is more than 1 MB): the device's remedy for both is to
            # send smaller batches. (A 5xx fails not_a_server_error.)
            "negative_data_rejection": {"expected-statuses": ["400", "401", "403", "413", "422"]},
        }
    }
)


def test_every_answer_is_one_the_document_describes(app, make_world, make_station):
    _station, token = make_station(make_world(villages=1))
    auth = {"Authorization": f"Bearer {token}"}

    def wsgi(environ, start_response):
        # Each request in an app context of its own, as on a real server (FreshContextClient).
        with app.app_context():
            return app(environ, start_response)

    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", wsgi, config=CONFIG)
    operation = schema["/api/v1/readings"]["POST"]
    cases = st.one_of(
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    )
    # Besides the generated ones, one of each answer every run: stored, refused item by item
    # (a reading from 2000), refused as a whole.
    explicit = [
        {"readings": []},
        {"readings": [{"time": "2000-01-01T00:00:00Z", "pollutant": "PM10", "value": 1}]},
        {"readings": "none"},
    ]
    statuses: dict[int, int] = {}

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,  # a failure is reproduced by the seed it prints
        # batches of a thousand readings are slow and large to make; that is the point
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.filter_too_much,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
        ],
    )
    @given(case=cases)
    @example(case=operation.Case(body=explicit[0], media_type="application/json"))
    @example(case=operation.Case(body=explicit[1], media_type="application/json"))
    @example(case=operation.Case(body=explicit[2], media_type="application/json"))
    def check(case):
        response = case.call_and_validate(headers=auth)
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

    check()
    assert {200, 400, 422} <= set(statuses), statuses
