"""The hosting policy: modes, roles, the admin secret, rate limits."""

import pytest

from morph_core import access
from morph_core.access import OPERATOR, Policy, RateLimiter, Refused, Visitor

GUEST = Visitor(access.new_key(), "guest")
ADMIN = Visitor(access.new_key(), "boss", "admin")


def test_local_mode_allows_everything_public_only_admins():
    local, public = Policy("local"), Policy("public")
    for action in access.ADMIN_ACTIONS:
        assert local.allows(GUEST, action)
        assert not public.allows(GUEST, action)
        assert public.allows(ADMIN, action) and public.allows(OPERATOR, action)
    with pytest.raises(Refused, match="not available on this public demo"):
        public.require(GUEST, "prepare")
    with pytest.raises(ValueError, match="unknown action"):
        public.allows(GUEST, "launch missiles")


def test_a_visitor_sees_only_their_own_in_public_mode():
    public, local = Policy("public"), Policy("local")
    other = access.new_key()
    assert public.sees(GUEST, GUEST.key) and not public.sees(GUEST, other)
    assert not public.sees(GUEST, "")  # an operator's run is not a visitor's
    assert public.sees(ADMIN, other) and local.sees(GUEST, other)


def test_the_mode_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv("MORPH_MODE", raising=False)
    assert access.policy().mode == "local"
    monkeypatch.setenv("MORPH_MODE", "PUBLIC")
    assert access.policy().public and access.policy().limits.runs_per_visitor
    monkeypatch.setenv("MORPH_MODE", "open to all")
    with pytest.raises(ValueError, match="MORPH_MODE"):
        access.policy()


def test_keys_are_unguessable_and_names_are_not_keys():
    keys = {access.new_key() for _ in range(1000)}
    assert len(keys) == 1000 and all(access.is_key(k) for k in keys)
    for text in ("ann", "", None, "x" * 21, "../" + "a" * 19, "a" * 22 + "\n"):
        assert not access.is_key(text)


def test_the_admin_secret_is_stored_hashed_and_checked():
    stored = access.hash_secret("correct horse battery")
    assert "correct horse" not in stored and stored.startswith("pbkdf2_sha256$")
    assert access.check_secret("correct horse battery", stored)
    assert not access.check_secret("correct horse batterx", stored)
    assert not access.check_secret("", stored)
    assert not access.check_secret("anything", None)
    assert not access.check_secret("anything", "garbage")
    assert stored != access.hash_secret("correct horse battery")  # salted
    with pytest.raises(access.MorphCoreError, match="12 characters"):
        access.hash_secret("short")


def test_rate_limits_hold_per_visitor_and_kind_and_recover():
    limiter = RateLimiter(3)
    for t in range(3):
        limiter.check(GUEST, "search", now=100.0 + t)
    with pytest.raises(Refused, match="at most 3 a minute.*57 s"):
        limiter.check(GUEST, "search", now=103.0)
    limiter.check(GUEST, "refit", now=103.0)  # another kind
    limiter.check(Visitor(access.new_key()), "search", now=103.0)  # another visitor
    limiter.check(ADMIN, "search", now=103.0)
    limiter.check(GUEST, "search", now=161.0)  # the window moved on
    RateLimiter(None).check(GUEST, "search")


def test_paths_are_cut_from_what_visitors_read():
    text = "missing file: /srv/data/secret/x.fits (see /etc/passwd)"
    assert access.without_paths(text) == "missing file: x.fits (see passwd)"
