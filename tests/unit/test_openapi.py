"""docs/openapi.yaml: a valid OpenAPI 3.1 document that names exactly the routes the app
registers, guards the admin routes, and whose schemas accept what the code answers."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable
from functools import cache
from typing import Any

import azure.functions as func
import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric import ec
from openapi_schema_validator import OAS31Validator, oas31_format_checker
from openapi_spec_validator import validate

from devtools.funchost import Route, load_app, route_prefix, routes_of
from devtools.funchost_routes import parse_template
from devtools.localca import PROJECT_ROOT
from functions import pages, web
from shared import errors
from shared.errors import EntraBridgeError, InvalidRequest, PayloadTooLarge
from shared.secret import mask_secret
from shared.sessions.keys import jwks_document
from shared.signin.status import SignInStatus
from shared.store.audit import _event as audit_event
from shared.tenants.document import render_client_secret_answer, render_config_document
from shared.tenants.model import OAuth2Config, ProfileMapping, default_config
from shared.tenants.validation import parse_client_secret_put, parse_config_put
from shared.users import User
from tests.support.documented_answers import is_documented, spec_path

SPEC_PATH = PROJECT_ROOT / "docs" / "openapi.yaml"
METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
ADMIN_SECURITY: list[dict[str, list[str]]] = [{"bearer": []}, {"platformAdminKey": []}]

TODAY = dt.date(2026, 5, 1)
DIRECTORY = "7a9d4f21-b3e2-4c8a-9f41-1e6a92d8f7bc"
CLIENT = "550e8400-e29b-41d4-a716-446655440000"
CUSTOMER = "46478538-4689-45b5-994c-d12a49c354b0"
GROUP = "0b7c41f8-6e0b-4f55-8a53-9a6c3c5b1d01"
PROFILE = "a1f0c3de-2b4d-4c6e-8f10-1a2b3c4d5e01"
USER_ID = "3f2b8c1e-5d4a-5b6c-9e8f-0a1b2c3d4e5f"
RAW_SECRET = "333~Raw.Secret-Value_abcdefghijklmnop"

Operation = tuple[str, str]  # (METHOD, normalised path)


@cache
def spec() -> dict[str, Any]:
    document = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


def operations() -> Iterable[tuple[str, str, dict[str, Any]]]:
    for path, item in spec()["paths"].items():
        for method in METHODS:
            if method in item:
                yield method.upper(), path, item[method]


def resolved(node: dict[str, Any]) -> dict[str, Any]:
    """Follow local `$ref`s (the validator has already checked they resolve)."""
    while "$ref" in node:
        target: Any = spec()
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def normal_path(path: str) -> str:
    """`/api/x/{id:guid}` and `/api/x/{id}` alike: constraints, defaults, `?` and `*` dropped."""
    return re.sub(r"\{\**([^}:=?]+)[^}]*\}", r"{\1}", "/" + path.strip("/"))


def route_operations(routes: Iterable[Route]) -> set[Operation]:
    routes = list(routes)
    every_method = sorted(f"{r.name} (/{r.template.text})" for r in routes if r.methods is None)
    assert not every_method, (
        f"these functions take every HTTP method, which the spec cannot list: {every_method}; "
        "give their @bp.route a methods=[...]"
    )
    return {
        (method, normal_path(route.template.text))
        for route in routes
        for method in route.methods or ()
    }


def registered_operations() -> set[Operation]:
    # As the local host (and Azure) sees them: the app's HTTP functions under host.json's prefix.
    app = load_app("function_app:app")
    return route_operations(routes_of(app, route_prefix(PROJECT_ROOT / "host.json")))


def validator(schema_name: str) -> Any:
    schema = {"$ref": f"#/components/schemas/{schema_name}", "components": spec()["components"]}
    return OAS31Validator(schema, format_checker=oas31_format_checker)


def check(instance: object, schema_name: str) -> None:
    """Raise with the first mismatch (formats such as uuid and date-time are checked too)."""
    validator(schema_name).validate(instance)


def matches(instance: object, schema_name: str) -> bool:
    return bool(validator(schema_name).is_valid(instance))


def error_classes() -> list[type[EntraBridgeError]]:
    found: list[type[EntraBridgeError]] = [EntraBridgeError]
    for cls in found:
        found.extend(c for c in cls.__subclasses__() if c not in found)
    return [c for c in found if c.__module__ == errors.__name__]


# --- the document -------------------------------------------------------------------


def test_the_spec_is_a_valid_openapi_3_1_document_whose_refs_all_resolve() -> None:
    assert spec()["openapi"].startswith("3.1.")
    validate(spec())
    assert "README" in spec()["info"]["description"]


def test_every_route_the_app_registers_is_in_the_spec_and_nothing_else_is() -> None:
    documented = {(method, normal_path(path)) for method, path, _ in operations()}
    registered = registered_operations()
    assert not registered - documented, f"routes missing from the spec: {registered - documented}"
    assert not documented - registered, (
        f"spec operations no route serves: {documented - registered}"
    )


def test_the_answer_check_of_the_e2e_tests_knows_documented_from_undocumented() -> None:
    # tests/support/documented_answers.py fails any e2e test whose answer the spec lacks.
    app = load_app("function_app:app")
    by_name = {
        route.name: route for route in routes_of(app, route_prefix(PROJECT_ROOT / "host.json"))
    }
    users = next(r for r in by_name.values() if r.template.text.endswith("users/{user_id}"))
    assert spec_path(users) == "/api/admin/tenants/{tenant}/users/{user_id}"
    assert is_documented(users, "PATCH", 409) and is_documented(users, "PATCH", 200)
    assert not is_documented(users, "PATCH", 418)
    assert not is_documented(users, "DELETE", 200)


def test_a_function_that_takes_every_method_is_named_in_the_failure() -> None:
    catch_all = Route(
        name="anything",
        template=parse_template("api/anything/{id:guid}"),
        methods=None,
        auth_level="anonymous",
        handler=lambda req: None,
        request_argument="req",
    )
    with pytest.raises(AssertionError, match=r"anything \(/api/anything/\{id:guid\}\)"):
        route_operations([catch_all])


def test_path_parameters_compare_by_name_whatever_their_constraints() -> None:
    assert normal_path("api/admin/tenants/{tenant}/users/{user_id:guid}") == (
        "/api/admin/tenants/{tenant}/users/{user_id}"
    )
    assert normal_path("/api/files/{*rest}") == "/api/files/{rest}"


def test_every_operation_has_a_unique_operation_id_and_a_one_line_summary() -> None:
    ids = [op["operationId"] for _, _, op in operations()]
    assert len(ids) == len(set(ids)), ids
    for method, path, op in operations():
        summary = op.get("summary", "")
        assert summary.strip() and "\n" not in summary.strip(), f"{method} {path}"


def test_every_admin_operation_takes_a_bearer_token_or_the_platform_key_and_lists_401_and_403() -> (
    None
):
    admin = [(m, p, op) for m, p, op in operations() if p.startswith("/api/admin/")]
    assert len(admin) == 12
    for method, path, op in admin:
        assert op["security"] == ADMIN_SECURITY, f"{method} {path}"
        assert {"401", "403", "500", "503"} <= set(op["responses"]), f"{method} {path}"
        unauthorized = resolved(op["responses"]["401"])
        assert "WWW-Authenticate" in unauthorized["headers"], f"{method} {path}"
        if "requestBody" in op:
            assert {"400", "413"} <= set(op["responses"]), f"{method} {path}"
        if "{tenant}" in path and (method, path) != ("PUT", "/api/admin/tenants/{tenant}"):
            assert "404" in op["responses"], f"{method} {path}"


def test_every_scim_operation_takes_the_scim_token_and_lists_401_500_and_503() -> None:
    scim = [(m, p, op) for m, p, op in operations() if p.startswith("/api/scim/")]
    assert len(scim) >= 20
    for method, path, op in scim:
        assert op["security"] == [{"scimToken": []}], f"{method} {path}"
        assert {"401", "500", "503"} <= set(op["responses"]), f"{method} {path}"
        assert "WWW-Authenticate" in resolved(op["responses"]["401"])["headers"]
        if "requestBody" in op:
            assert {"400", "413"} <= set(op["responses"]), f"{method} {path}"


def test_the_platform_only_tenant_route_says_a_tenant_admin_gets_403() -> None:
    op = spec()["paths"]["/api/admin/tenants/{tenant}"]["put"]
    assert "403" in op["description"] and "tenant_admin" in op["description"]
    assert {"200", "201"} <= set(op["responses"])


def test_configuration_reads_and_writes_carry_etags_and_writes_are_conditional() -> None:
    item = spec()["paths"]["/api/admin/tenants/{tenant}/oauth2"]
    for method in ("get", "put"):
        assert "ETag" in item[method]["responses"]["200"]["headers"]
    put = item["put"]
    parameters = [resolved(p) for p in put["parameters"]]
    assert any(p["name"] == "If-Match" and p["in"] == "header" for p in parameters)
    assert {"400", "404", "412", "413", "428"} <= set(put["responses"])
    assert "412" not in item["get"]["responses"]


def test_every_json_error_response_is_the_error_schema() -> None:
    for method, path, op in operations():
        for status, response in op["responses"].items():
            if int(status) < 400:
                continue
            content = resolved(response).get("content", {})
            if path.startswith("/api/scim/"):
                scim_schema = content.get("application/scim+json", {}).get("schema")
                assert scim_schema == {"$ref": "#/components/schemas/ScimError"}, (
                    f"{method} {path} {status}: a SCIM Error"
                )
                continue
            json_schema = content.get("application/json", {}).get("schema")
            if json_schema is None:
                assert "text/html" in content, f"{method} {path} {status}: no body documented"
                continue
            expected = "Health" if path == "/api/health" else "Error"
            assert json_schema == {"$ref": f"#/components/schemas/{expected}"}, (
                f"{method} {path} {status}"
            )


def test_the_error_code_enum_is_every_code_the_code_can_emit() -> None:
    enum = spec()["components"]["schemas"]["ErrorCode"]["enum"]
    assert len(enum) == len(set(enum))
    assert set(enum) == {cls.code for cls in error_classes()}
    assert set(pages.MESSAGES) <= set(enum)


def test_redirects_document_their_location() -> None:
    redirects = [
        (m, p, resolved(op["responses"]["302"]))
        for m, p, op in operations()
        if "302" in op["responses"]
    ]
    # authorize, callback GET and POST, logout GET, onboarding's callback, and the
    # password forms (sign-in, set-password) as the contract has them
    assert len(redirects) == 7
    for method, path, response in redirects:
        assert "Location" in response["headers"], f"{method} {path}"
        assert "Set-Cookie" in response["headers"], f"{method} {path}"


def test_the_login_page_is_html() -> None:
    op = spec()["paths"]["/api/auth/{tenant}/login"]["get"]
    assert set(op["responses"]["200"]["content"]) == {"text/html"}


# --- the schemas against what the code produces ---------------------------------------


def full_config(expires: dt.date) -> OAuth2Config:
    return OAuth2Config(
        enabled=True,
        client_id=CLIENT,
        tenant_id=DIRECTORY,
        customer_id=CUSTOMER,
        profile_mappings=(ProfileMapping(PROFILE, GROUP),),
        admin_group_ids=(GROUP,),
        homepage_url="/app",
        login_page_url="https://app.example.com/login",
        allowed_return_origins=("https://app.example.com",),
        enforce_sso=True,
        client_secret_set=True,
        client_secret_expires_on=expires,
        updated_at=dt.datetime(2026, 4, 30, 9, 15, tzinfo=dt.UTC),
        updated_by=f"user:{USER_ID} <ada@example.com>",
    )


def document(config: OAuth2Config, masked: str | None) -> dict[str, Any]:
    return render_config_document(
        config,
        masked_secret=masked,
        slug="contoso",
        public_base_url="https://auth.example.com",
        authority_host="https://login.microsoftonline.com",
        today=TODAY,
    )


@pytest.mark.parametrize(
    "expires",
    [dt.date(2028, 5, 15), dt.datetime(2026, 5, 10, 12, 0, tzinfo=dt.UTC)],
    ids=["date", "time"],
)
def test_a_configured_document_matches_the_schema_for_reading_and_writing(
    expires: dt.date,
) -> None:
    body = document(full_config(expires), mask_secret(RAW_SECRET))
    check(body, "OAuth2ConfigDocument")
    check(body, "OAuth2Config")  # a GET body sent back is a valid PUT body


def test_the_default_document_before_the_first_put_matches_the_schema() -> None:
    check(document(default_config(), None), "OAuth2ConfigDocument")


def test_the_schema_refuses_a_document_with_a_field_the_spec_does_not_name() -> None:
    body = document(default_config(), None)
    assert not matches({**body, "client_secret_value": RAW_SECRET}, "OAuth2Config")
    del body["endpoints"]
    assert not matches(body, "OAuth2ConfigDocument")


def test_the_schemas_check_formats_so_a_user_id_or_time_of_the_wrong_shape_does_not_match() -> None:
    user = make_user().to_public()
    assert matches(user, "User")
    assert not matches({**user, "id": "ada"}, "User")
    assert not matches({**user, "created_at": "yesterday"}, "User")


def test_the_specs_configuration_example_is_a_put_body_the_code_accepts() -> None:
    example = spec()["components"]["schemas"]["OAuth2Config"]["example"]
    check(example, "OAuth2Config")
    update = parse_config_put(
        example, current=default_config(), current_masked_secret=None, today=TODAY
    )
    assert update.config.enabled and update.new_client_secret is not None


def test_the_specs_client_secret_example_is_a_body_the_code_accepts() -> None:
    example = spec()["components"]["schemas"]["ClientSecretPut"]["example"]
    check(example, "ClientSecretPut")
    parse_client_secret_put(example, today=TODAY)


def test_the_client_secret_answer_matches_the_schema() -> None:
    masked = mask_secret(RAW_SECRET)
    assert masked is not None
    for expires in (dt.date(2028, 5, 15), dt.datetime(2026, 5, 10, 12, 0, tzinfo=dt.UTC)):
        check(render_client_secret_answer(masked, expires, today=TODAY), "ClientSecretAnswer")


def make_user(**changes: Any) -> User:
    fields: dict[str, Any] = {
        "id": USER_ID,
        "tenant": "contoso",
        "email": "ada@example.com",
        "name": "Ada Lovelace",
        "provider": "microsoft",
        "customer_id": CUSTOMER,
        "profiles": (PROFILE,),
        "roles": ("tenant_admin",),
        "disabled": False,
        "created_at": dt.datetime(2026, 4, 1, 8, 0, tzinfo=dt.UTC),
        "last_login_at": dt.datetime(2026, 4, 30, 9, 15, 7, 123456, tzinfo=dt.UTC),
        "entra_tenant_id": DIRECTORY,
        "entra_object_id": GROUP,
    }
    fields.update(changes)
    return User(**fields)


def test_the_user_object_and_a_page_of_users_match_the_schema() -> None:
    signed_in = make_user().to_public()
    never_signed_in = make_user(last_login_at=None, roles=(), profiles=()).to_public()
    check(signed_in, "User")
    check(never_signed_in, "User")
    check({"users": [signed_in, never_signed_in], "next": "b3BhcXVl"}, "UserPage")
    check({"users": [], "next": None}, "UserPage")


def test_audit_events_and_a_page_of_them_match_the_schema() -> None:
    at = dt.datetime(2026, 4, 30, 9, 15, tzinfo=dt.UTC)
    config_change = audit_event(
        {
            "at": at,
            "action": "config_updated",
            "actor": "platform_admin",
            "ip": "203.0.113.7",
            "fields": json.dumps(["enabled", "client_secret"]),
            "user_id": "",
            "code": "",
        }
    )
    refusal = audit_event(
        {
            "at": at,
            "action": "sign_in_refused",
            "actor": "anonymous",
            "ip": "",
            "fields": "[]",
            "user_id": USER_ID,
            "code": "account_disabled",
        }
    )
    check(config_change, "AuditEvent")
    check(refusal, "AuditEvent")
    check({"events": [config_change, refusal], "next": None}, "AuditPage")


@pytest.mark.parametrize("cls", error_classes(), ids=lambda cls: cls.__name__)
def test_every_error_body_matches_the_error_schema(cls: type[EntraBridgeError]) -> None:
    check(cls().to_body(), "Error")


def test_an_invalid_request_naming_fields_matches_the_error_schema() -> None:
    error = InvalidRequest(
        "The configuration is not valid.",
        fields={"client_id": "must be a UUID", "profile_mappings[0].group_id": "is required"},
    )
    check(error.to_body(), "Error")


def test_what_the_http_glue_answers_for_errors_matches_the_error_schema() -> None:
    def crashes(req: func.HttpRequest) -> func.HttpResponse:
        raise RuntimeError("boom")

    def too_big(req: func.HttpRequest) -> func.HttpResponse:
        raise PayloadTooLarge()

    req = func.HttpRequest("GET", "https://h/api/x", body=b"")
    for handler in (crashes, too_big):
        check(json.loads(web.api(handler)(req).get_body()), "Error")


def test_the_status_body_matches_the_schema() -> None:
    status = SignInStatus(
        tenant="contoso",
        sso_enabled=True,
        authorize_url="https://auth.example.com/api/auth/contoso/authorize",
        button_label="Login with Microsoft",
        enforce_sso=False,
    )
    check(status.to_body(), "Status")


def test_the_jwks_document_matches_the_schema() -> None:
    keys = {f"key-{n}": ec.generate_private_key(ec.SECP256R1()).public_key() for n in (1, 2)}
    check(jwks_document(keys), "Jwks")


def test_health_answers_match_the_schema_when_healthy_and_not() -> None:
    from shared.admin.health import HealthReport

    ok = {"settings": "ok", "table_storage": "ok", "key_vault": "ok", "tenant_secrets": "ok"}
    degraded = HealthReport(ok | {"tenant_secrets": "missing for 1"}, ("acme",))
    down = HealthReport(ok | {"key_vault": "unavailable"})
    reports = (HealthReport(ok), degraded, down)
    assert [r.status for r in reports] == ["ok", "degraded", "unavailable"]
    for report in reports:
        for operator in (False, True):
            check(report.to_body(name_tenants=operator), "Health")
    check({"status": "unavailable", "checks": {"settings": "failing: X is required"}}, "Health")
