"""portal.groups.names: any input gives a name both Gitea and Coder accept, stable and collision-safe."""
from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portal.groups.names import (CODER_MAX, RESERVED_NAMES, is_valid_coder_name, is_valid_gitea_name,
                          is_valid_name, short_hash, slugify, unique_name, username_from,
                          validate_group_slug, validate_project_slug)

GITEA = re.compile(r"^[\da-zA-Z][-.\w]*$", re.ASCII)
GITEA_BAD = re.compile(r"[-._]{2,}|[-._]$")
CODER = re.compile(r"^[a-zA-Z0-9]+(?:-[a-zA-Z0-9]+)*$")

text = st.text(max_size=80)
maybe_text = st.none() | text
subs = st.text(min_size=1, max_size=60)


def assert_valid_everywhere(name: str) -> None:
    """The rules restated independently of the implementation."""
    assert 0 < len(name) <= CODER_MAX, name
    assert CODER.match(name) and GITEA.match(name) and not GITEA_BAD.search(name), name
    assert name == name.lower(), name
    assert name not in RESERVED_NAMES and name not in ("new", "create"), name
    assert is_valid_coder_name(name) and is_valid_gitea_name(name) and is_valid_name(name)


@settings(max_examples=400)
@given(maybe_text, maybe_text, subs)
def test_any_input_gives_a_valid_stable_name(preferred, email, sub):
    name = username_from(preferred, email, sub)
    assert_valid_everywhere(name)
    assert username_from(preferred, email, sub) == name


@given(text, st.integers(min_value=1, max_value=60))
def test_slugify_is_valid_or_empty(value, max_len):
    slug = slugify(value, max_len)
    assert len(slug) <= max_len
    if slug:
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", slug)


@settings(max_examples=300)
@given(st.lists(subs, min_size=2, max_size=25, unique=True), maybe_text, maybe_text)
def test_distinct_people_get_distinct_names(sub_list, preferred, email):
    """Everyone asks for the same name; stored names never collide, whatever the order."""
    stored: set[str] = set()
    for sub in sub_list:
        base = username_from(preferred, email, sub)
        name = unique_name(base, stored.__contains__, identity=sub)
        assert_valid_everywhere(name)
        assert name not in stored
        stored.add(name)


@given(subs, subs)
def test_collision_suffix_depends_on_identity_not_order(sub_a, sub_b):
    taken = {"alice"}.__contains__
    a = unique_name("alice", taken, identity=sub_a)
    assert a == unique_name("alice", taken, identity=sub_a)
    if sub_a != sub_b and short_hash(sub_a) != short_hash(sub_b):
        assert a != unique_name("alice", taken, identity=sub_b)


@pytest.mark.parametrize("preferred,email,expected", [
    ("Jöhn Dœ", None, "john-doe"),
    (None, "Ana.María@example.org", "ana-maria"),
    ("Straße", None, "strasse"),
    ("  --Łukasz__Żółć--  ", None, "lukasz-zolc"),
    ("José", "x@y", "jose"),
])
def test_transliteration(preferred, email, expected):
    assert username_from(preferred, email, "sub") == expected


def test_reserved_and_unusable_names_fall_back():
    assert username_from("admin", None, "sub-1").startswith("admin-")
    assert username_from("new", None, "sub-1").startswith("new-")
    assert username_from("北京", "", "sub-1").startswith("u-")
    assert username_from(None, None, "sub-1") == username_from("", "@", "sub-1")
    assert username_from(None, None, "sub-1") != username_from(None, None, "sub-2")
    assert len(username_from("x" * 100, None, "s")) == CODER_MAX
    with pytest.raises(ValueError):
        username_from("alice", None, "")


def test_unique_name_keeps_length_and_gives_up_eventually():
    long = "a" * 32
    name = unique_name(long, {long}.__contains__, identity="s")
    assert len(name) <= 32 and name.startswith("a") and name != long
    with pytest.raises(ValueError):
        unique_name("alice", lambda n: True, identity="s", attempts=3)


@pytest.mark.parametrize("slug,reason", [
    ("ml-team", None), ("a", None), ("", "empty"), ("x" * 41, "at most 40"),
    ("ML", "lowercase"), ("a--b", "single hyphens"), ("-a", "start"), ("a_b", "lowercase"),
    ("api", "reserved"), ("admin", "reserved"), ("new", "reserved"),
])
def test_validate_group_slug(slug, reason):
    result = validate_group_slug(slug)
    assert (result is None) if reason is None else (reason in result)


@pytest.mark.parametrize("slug,reason", [
    ("proto-1", None), ("x" * 100, None), ("x" * 101, "at most 100"), ("a b", "lowercase"),
    ("create", "reserved"),
])
def test_validate_project_slug(slug, reason):
    result = validate_project_slug(slug)
    assert (result is None) if reason is None else (reason in result)


@given(text)
def test_validators_never_crash_and_accept_what_slugify_makes(value):
    assert isinstance(validate_group_slug(value), (str, type(None)))
    slug = slugify(value, 40)
    if slug and validate_group_slug(slug) is None:
        assert is_valid_gitea_name(slug)
