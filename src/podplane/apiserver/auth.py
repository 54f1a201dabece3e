"""Authentication, authorization and the review APIs that report on them.

Authentication: bearer tokens. The admin token (from `apiserver.tls`) maps to user
`admin` in group `system:masters`; requests without a valid token get 401, except
the public health and version endpoints, which upstream also serves to anonymous
users. Authorization: every authenticated user here is a cluster admin (RBAC objects
are stored and served but not yet enforced), so the review APIs answer "allowed".

Review APIs (`kubectl auth can-i`, `kubectl auth whoami`, TokenReview,
SubjectAccessReview, SelfSubjectRulesReview) are create-only and never stored.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from aiohttp import web

from podplane.api import errors
from podplane.apiserver.request import Target, decode_body
from podplane.apiserver.rest import RequestContext, json_response

__all__ = ["Authenticator", "PUBLIC_PATHS", "User", "review_handlers"]

PUBLIC_PATHS = ("/healthz", "/livez", "/readyz", "/version", "/version/")


@dataclass(frozen=True)
class User:
    name: str
    groups: tuple[str, ...]
    uid: str = ""


ADMIN = User("admin", ("system:masters", "system:authenticated"))


class Authenticator:
    def __init__(self, admin_token: str) -> None:
        self._tokens: dict[str, User] = {admin_token: ADMIN}

    def add_token(self, token: str, user: User) -> None:
        self._tokens[token] = user

    def authenticate(self, authorization: str | None) -> User | None:
        if not authorization:
            return None
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        token = token.strip()
        for known, user in self._tokens.items():
            if hmac.compare_digest(known, token):
                return user
        return None


async def _body(request: web.Request) -> dict:
    body = decode_body(await request.read(), request.headers.get("Content-Type"), what="error decoding review")
    if not isinstance(body, dict):
        raise errors.bad_request("the review must be an object")
    return body


def _user_info(ctx: RequestContext) -> dict:
    return {"username": ctx.user, "groups": list(ctx.groups)}


def _echo(body: dict, api_version: str, kind: str, status: dict) -> dict:
    out = {"kind": kind, "apiVersion": api_version, "metadata": {"creationTimestamp": None}}
    if "spec" in body or kind not in ("SelfSubjectReview",):
        out["spec"] = body.get("spec") or {}
    out["status"] = status
    return out


async def _self_subject_access_review(request: web.Request, target: Target, ctx: RequestContext):
    body = await _body(request)
    return json_response(_echo(body, "authorization.k8s.io/v1", "SelfSubjectAccessReview",
                               {"allowed": True, "reason": "podplane: authenticated users are cluster admins"}),
                         201)


async def _subject_access_review(request: web.Request, target: Target, ctx: RequestContext):
    body = await _body(request)
    kind = target.info.kind
    return json_response(_echo(body, "authorization.k8s.io/v1", kind, {"allowed": True}), 201)


async def _self_subject_rules_review(request: web.Request, target: Target, ctx: RequestContext):
    body = await _body(request)
    status = {"resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
              "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}], "incomplete": False}
    return json_response(_echo(body, "authorization.k8s.io/v1", "SelfSubjectRulesReview", status), 201)


async def _self_subject_review(request: web.Request, target: Target, ctx: RequestContext):
    await _body(request)
    return json_response({"kind": "SelfSubjectReview", "apiVersion": "authentication.k8s.io/v1",
                          "metadata": {"creationTimestamp": None}, "status": {"userInfo": _user_info(ctx)}}, 201)


def review_handlers(authenticator: Authenticator) -> dict:
    async def token_review(request: web.Request, target: Target, ctx: RequestContext):
        body = await _body(request)
        token = (body.get("spec") or {}).get("token", "")
        user = authenticator.authenticate(f"Bearer {token}") if token else None
        status = {"authenticated": False}
        if user is not None:
            status = {"authenticated": True, "user": {"username": user.name, "groups": list(user.groups)}}
        return json_response(_echo(body, "authentication.k8s.io/v1", "TokenReview", status), 201)

    return {
        ("authorization.k8s.io", "selfsubjectaccessreviews"): _self_subject_access_review,
        ("authorization.k8s.io", "subjectaccessreviews"): _subject_access_review,
        ("authorization.k8s.io", "localsubjectaccessreviews"): _subject_access_review,
        ("authorization.k8s.io", "selfsubjectrulesreviews"): _self_subject_rules_review,
        ("authentication.k8s.io", "selfsubjectreviews"): _self_subject_review,
        ("authentication.k8s.io", "tokenreviews"): token_review,
    }
