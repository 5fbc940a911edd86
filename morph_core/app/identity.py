"""Who is visiting: their key (kept in the URL), display name and role.

The key is the visitor's identity: an unguessable token in ``?visitor=``, so a
reload, a reconnect or the link opened later resumes the same ratings and runs;
the display name is only shown. Admins sign in on Home with the secret whose
hash is ``admin_secret_hash`` in ``.streamlit/secrets.toml`` (or, when the host
configures OIDC under ``[auth]``, with ``st.login`` and ``admin_emails``).
"""

from __future__ import annotations

import logging
import uuid

import streamlit as st

from morph_core import access
from morph_core.access import Visitor

log = logging.getLogger("morph_core")


def start() -> None:
    """Take the visitor's key and name from the URL (or a new key) when the
    session starts; call before the name widget is drawn."""
    if "visitor.key" not in st.session_state:
        given = st.query_params.get("visitor")
        key = given if access.is_key(given) else access.new_key()
        st.session_state["visitor.key"] = key
        st.session_state.setdefault("visitor.name", st.query_params.get("name", ""))


def visitor() -> Visitor:
    """This session's visitor; the key is put in the URL on every run."""
    start()
    key = st.session_state["visitor.key"]
    if st.query_params.get("visitor") != key:
        st.query_params["visitor"] = key
    name = " ".join(str(st.session_state.get("visitor.name", "")).split())[:40]
    if name and st.query_params.get("name") != name:
        st.query_params["name"] = name
    role = "admin" if _is_admin() else "visitor"
    return Visitor(key, name, role)


def _is_admin() -> bool:
    if not access.policy().public:
        return True  # local: the person at the keyboard owns the server
    if st.session_state.get("visitor.admin"):
        return True
    emails = _secret("admin_emails") or []
    user = getattr(st, "user", None)
    return bool(user and user.get("is_logged_in") and user.get("email") in emails)


def _secret(name: str):
    try:
        return st.secrets.get(name)
    except FileNotFoundError:  # no secrets.toml: nobody is admin
        return None


def admin_sign_in() -> None:
    """The admin sign-in of the sidebar (public mode only)."""
    if not access.policy().public:
        return
    if st.session_state.get("visitor.admin"):
        st.sidebar.caption("Signed in as admin.")
        return
    stored = _secret("admin_secret_hash")
    auth = _secret("auth")
    if not stored and not auth:
        return
    with st.sidebar.expander("Admin"):
        if auth and st.button("Sign in (single sign-on)", key="visitor.login"):
            st.login()
        if stored:
            st.text_input("Admin secret", type="password", key="visitor.secret")
            st.button(
                "Sign in", key="visitor.sign_in", on_click=_sign_in, args=(stored,)
            )
        if st.session_state.pop("visitor.refused", None):
            st.error("Wrong secret.")


def _sign_in(stored: str) -> None:
    ok = access.check_secret(st.session_state.get("visitor.secret", ""), stored)
    st.session_state["visitor.admin"] = ok
    st.session_state["visitor.secret"] = ""
    st.session_state["visitor.refused"] = not ok


def session_id() -> str:
    """This browser tab's Streamlit session (recorded with each rating)."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    context = get_script_run_ctx()
    return context.session_id if context else ""


def report(error: BaseException) -> str:
    """Log an unexpected error with its traceback server-side; the id to quote."""
    error_id = uuid.uuid4().hex[:8]
    log.error("error %s", error_id, exc_info=error)
    return error_id
