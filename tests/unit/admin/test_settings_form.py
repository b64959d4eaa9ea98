"""The settings page's pure form logic: where each configuration error is shown."""

from __future__ import annotations

from shared.admin.settings_form import field_errors


def test_each_error_goes_to_the_control_that_shows_it_saying_which_entry() -> None:
    placed = field_errors(
        {
            "client_id": "must be a GUID",
            "admin_group_ids[1]": "must be a GUID",
            "allowed_return_origins[0]": "must be an https origin",
            "allowed_return_origins[2]": "must be an https origin",
            "profile_mappings[3].group_id": "must be a GUID",
            "profile_mappings[0].profile_id": "is required",
            "profile_mappings[4]": "maps a group already mapped",
        }
    )
    assert placed == {
        "client_id": ["must be a GUID"],
        "admin_group_ids": ["entry 2: must be a GUID"],
        "allowed_return_origins": [
            "entry 1: must be an https origin",
            "entry 3: must be an https origin",
        ],
        "group_id_3": ["must be a GUID"],
        "profile_id_0": ["is required"],
        "profile_mappings": ["row 5: maps a group already mapped"],
    }
    assert field_errors({}) == {}


def test_the_csrf_token_needs_the_servers_key_not_just_the_session_id() -> None:
    import hashlib
    import os

    from shared.admin.settings_form import csrf_ok, csrf_token

    sid, key, rotated = "s3ss10n-id-0000000000", os.urandom(32), os.urandom(32)
    token = csrf_token(sid, key)
    assert csrf_ok(token, sid, [key]) and csrf_ok(token, sid, [rotated, key])
    assert not csrf_ok(token, "another-session-00000", [key])
    assert not csrf_ok(token, sid, [rotated])  # a key no longer in the ring
    # What anyone who saw the session id could compute before (the unkeyed hash).
    unkeyed = hashlib.sha256(f"entrabridge-settings|{sid}".encode()).hexdigest()[:32]
    assert not csrf_ok(unkeyed, sid, [key]) and not csrf_ok("", sid, [key])
