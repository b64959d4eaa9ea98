"""The local host tries only the templates whose leading literal segments start the
path (RouteIndex): it must pick the route trying every template would pick, for any path (a property
over the project's own routes and the sample app's)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from devtools.funchost import Route, RouteIndex, load_app, routes_of
from devtools.funchost_routes import parse_template
from tests.support.funchost import SAMPLE_APP

APP_ROUTES = routes_of(load_app("function_app:app"), "")
SAMPLE_ROUTES = routes_of(load_app(SAMPLE_APP), "")
# Templates whose first segment is not literal: any path may reach them.
MIXED_TEMPLATES = ["{tenant}/items", "things/{id:int}", "{*rest}", "v{n:int}/x", "things/all", "x"]
MIXED_ROUTES = sorted(
    (
        Route(text, parse_template(text), None, "anonymous", lambda req: None, "req")
        for text in MIXED_TEMPLATES
    ),
    key=lambda route: (route.template.precedence, route.template.text.lower()),
)


def words_of(routes: list[Route]) -> list[str]:
    words = {"", "x", "v2", "42", "0b5e1c1e-8f1f-4a4e-9b1e-2b6b1f6f7e2a", "ADMIN"}
    for route in routes:
        for segment in route.template.segments:
            if segment.literal is not None:
                words |= {segment.literal, segment.literal.upper()}
    return sorted(words)


def first_match(routes: list[Route], path: list[str]) -> str | None:
    return next((route.name for route in routes if route.template.match(path) is not None), None)


def by_index(routes: list[Route], path: list[str]) -> str | None:
    return first_match(RouteIndex(routes).candidates(path), path)


@settings(max_examples=400)
@given(st.data())
def test_the_index_picks_the_route_every_template_would_pick(data: st.DataObject) -> None:
    routes = data.draw(st.sampled_from([APP_ROUTES, SAMPLE_ROUTES, MIXED_ROUTES]))
    words = words_of(routes)
    path = data.draw(st.lists(st.sampled_from(words) | st.text(max_size=6), max_size=7))
    assert by_index(routes, path) == first_match(routes, path)


def test_each_route_of_the_app_is_a_candidate_for_its_own_paths_and_few_others_are() -> None:
    index = RouteIndex(APP_ROUTES)
    for route in APP_ROUTES:
        path = [
            segment.literal if segment.literal is not None else "x"
            for segment in route.template.segments
        ]
        candidates = index.candidates(path)
        assert route in candidates
        assert len(candidates) < len(APP_ROUTES) / 2, route.template.text  # the index helps
