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

import base64
import datetime as dt
import hashlib
import hmac
import time
from dataclasses import dataclass

import orjson
from aiohttp import web

from podplane.api import errors
from podplane.apiserver.request import Target, decode_body
from podplane.apiserver.rest import HANDLER_KEY, RequestContext, json_response

__all__ = ["Authenticator", "PUBLIC_PATHS", "User", "review_handlers"]

PUBLIC_PATHS = ("/healthz", "/livez", "/readyz", "/version", "/version/")


@dataclass(frozen=True)
class User:
    name: str
    groups: tuple[str, ...]
    uid: str = ""


ADMIN = User("admin", ("system:masters", "system:authenticated"))


class Authenticator:
    """Static tokens (the admin) plus signed service-account tokens (TokenRequest)."""

    SA_PREFIX = "ppsa."

    def __init__(self, admin_token: str) -> None:
        self._tokens: dict[str, User] = {admin_token: ADMIN}
        # service-account tokens are signed with a key derived from the admin secret, so
        # they survive restarts and die with a rotated admin token
        self._sa_key = hashlib.sha256(b"podplane-serviceaccount:" + admin_token.encode()).digest()

    def add_token(self, token: str, user: User) -> None:
        self._tokens[token] = user

    def issue_service_account_token(self, namespace: str, name: str, uid: str, expires: int) -> str:
        claims = base64.urlsafe_b64encode(orjson.dumps(
            {"ns": namespace, "sa": name, "uid": uid, "exp": expires})).decode().rstrip("=")
        signature = hmac.new(self._sa_key, claims.encode(), hashlib.sha256).hexdigest()
        return f"{self.SA_PREFIX}{claims}.{signature}"

    def _service_account(self, token: str) -> User | None:
        body = token[len(self.SA_PREFIX):]
        claims, _, signature = body.rpartition(".")
        expected = hmac.new(self._sa_key, claims.encode(), hashlib.sha256).hexdigest()
        if not claims or not hmac.compare_digest(expected, signature):
            return None
        try:
            data = orjson.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
        except (ValueError, orjson.JSONDecodeError):
            return None
        if int(data.get("exp", 0)) < time.time():
            return None
        ns, name = data.get("ns", ""), data.get("sa", "")
        return User(f"system:serviceaccount:{ns}:{name}",
                    ("system:serviceaccounts", f"system:serviceaccounts:{ns}", "system:authenticated"),
                    uid=data.get("uid", ""))

    def authenticate(self, authorization: str | None) -> User | None:
        if not authorization:
            return None
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        token = token.strip()
        if token.startswith(self.SA_PREFIX):
            return self._service_account(token)
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

    async def token_request(request: web.Request, target: Target, ctx: RequestContext):
        """POST serviceaccounts/<name>/token: a signed, expiring token for that account."""
        body = await _body(request)
        handler = request.app[HANDLER_KEY]
        sa = await handler.store.get(target.info, target.namespace, target.name)
        spec = body.get("spec") or {}
        seconds = int(spec.get("expirationSeconds") or 3600)
        if seconds < 600:
            raise errors.invalid("TokenRequest", target.name, [errors.Cause(
                "FieldValueInvalid", f"Invalid value: {seconds}: may not specify a duration less than 10 minutes",
                "spec.expirationSeconds")], group="authentication.k8s.io")
        expires = int(time.time()) + seconds
        token = authenticator.issue_service_account_token(target.namespace, target.name, sa["metadata"]["uid"],
                                                          expires)
        stamp = dt.datetime.fromtimestamp(expires, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return json_response({
            "kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"name": target.name, "namespace": target.namespace, "creationTimestamp": None},
            "spec": {"audiences": spec.get("audiences") or ["https://kubernetes.default.svc.cluster.local"],
                     "expirationSeconds": seconds, "boundObjectRef": spec.get("boundObjectRef")},
            "status": {"token": token, "expirationTimestamp": stamp}}, 201)

    return {
        ("", "serviceaccounts/token"): token_request,
        ("authorization.k8s.io", "selfsubjectaccessreviews"): _self_subject_access_review,
        ("authorization.k8s.io", "subjectaccessreviews"): _subject_access_review,
        ("authorization.k8s.io", "localsubjectaccessreviews"): _subject_access_review,
        ("authorization.k8s.io", "selfsubjectrulesreviews"): _self_subject_rules_review,
        ("authentication.k8s.io", "selfsubjectreviews"): _self_subject_review,
        ("authentication.k8s.io", "tokenreviews"): token_review,
    }
