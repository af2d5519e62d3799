"""Who may do what, on every URL: a permission matrix generated from the URL conf.

Every pattern `django.urls.get_resolver()` resolves (but the Django admin, which has its
own staff-only login) must have a rule in RULES, keyed by its `namespace:name`: a view
added without one fails `test_it_has_a_rule_for_every_url_and_a_url_for_every_rule`.
A rule says which methods the view takes and, for each, the access it needs
(public, signed in, read, write or admin) and the status an allowed caller gets. The
rules state the INTENDED access (docs/api.md: viewers read, editors edit, admins purge and
manage tokens; tokens: `memories:read` for reads, `memories:write` for writes, `admin`
implies both); how each kind of caller is refused follows from that:

- pages (Django views, session only), in the order the views check: a method the view
  does not take → 405; not signed in → 302 to the login page (an agent too: a bearer
  token is no session); not a member of the space in the URL → 404; a member whose role
  is too low → 403.
- API (DRF): not authenticated → 401; a space the caller is not in, named by a person
  (`?space=`) or by the path (`/spaces/<slug>`) → 404; a caller without the needed
  scope → 403; a method the view does not take → 405; an object of another space, in
  the path or the body → 404, never 403 (existence does not leak).

Callers: anonymous; a viewer, an editor and an admin of the space (also calling the API
with their session and `?space=<slug>`); an outsider (admin of another space only); an
agent token of the space per Scope value; an admin token of another space.

Each request runs inside a savepoint that is rolled back (cookies restored too), so a
purge, a revocation or a logout changes nothing for the next request.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.http import StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from apps.audit.actors import Actor
from apps.consolidation import services as consolidation
from apps.jobs.models import Job
from apps.maps.models import MapPoint, Projection
from apps.memories import services
from apps.memories.models import Entity, LinkType, Mention
from apps.retrieval.models import Recall
from apps.spaces.models import ApiToken, Membership, Role, Scope, Space

pytestmark = pytest.mark.django_db

# ---------------------------------------------------------------- the rules

PAGE, API = "page", "api"
PUBLIC, SIGNED_IN, READ, WRITE, ADMIN = "public", "signed in", "read", "write", "admin"
# What each level needs of a member of the space, and of a token or an API caller.
LEVEL_ROLE = {READ: Role.VIEWER, WRITE: Role.EDITOR, ADMIN: Role.ADMIN}
LEVEL_SCOPE = {READ: Scope.MEMORIES_READ, WRITE: Scope.MEMORIES_WRITE, ADMIN: Scope.ADMIN}
ROLE_RANK = {Role.VIEWER: 1, Role.EDITOR: 2, Role.ADMIN: 3}
# The scopes a person's role gives them on the API (docs/api.md).
PERSON_SCOPES = {
    Role.VIEWER: {Scope.MEMORIES_READ},
    Role.EDITOR: {Scope.MEMORIES_READ, Scope.MEMORIES_WRITE},
    Role.ADMIN: {Scope.MEMORIES_READ, Scope.MEMORIES_WRITE, Scope.ADMIN},
}
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
JSONL = "application/x-ndjson"
LOGIN = "login"  # the outcome "302 to the login page"

Make = Callable[["World"], Any]


@dataclass(frozen=True)
class Call:
    """One method of a view: the access it needs and what an allowed caller gets."""

    need: str
    ok: str  # the status, or LOGIN for a redirect to the login page
    body: Make | None = None
    query: Make | None = None
    content_type: str = "application/json"
    # The request names objects of the space in its body or query (not only in its
    # path): an agent of another space must not find them either.
    names_objects: bool = False


@dataclass(frozen=True)
class Rule:
    kind: str
    calls: dict[str, Call]
    # kwarg → which object of the World fills it, where the default does not fit.
    objects: dict[str, str] = field(default_factory=dict)


def page(objects: dict[str, str] | None = None, **calls: Call) -> Rule:
    return Rule(PAGE, calls, objects or {})


def api(objects: dict[str, str] | None = None, **calls: Call) -> Rule:
    return Rule(API, calls, objects or {})


def public(ok: str = "200", **options: Any) -> Call:
    return Call(PUBLIC, ok, **options)


def signed_in(ok: str = "200", **options: Any) -> Call:
    return Call(SIGNED_IN, ok, **options)


def read(ok: str = "200", **options: Any) -> Call:
    return Call(READ, ok, **options)


def write(ok: str = "200", **options: Any) -> Call:
    return Call(WRITE, ok, **options)


def admin(ok: str = "200", **options: Any) -> Call:
    return Call(ADMIN, ok, **options)


def edit_form(w: World) -> dict[str, Any]:
    return {
        "content": "Alice likes jasmine tea.",
        "tags": "drinks",
        "kind": "fact",
        "importance": "0.5",
        "confidence": "0.9",
        "version": "2",
    }


RULES: dict[str, Rule] = {
    # -- public by design: asked once, anonymously, by test_it_serves_the_public_urls
    "health": api(GET=public()),
    "schema": api(GET=public()),
    "api-docs": api(GET=public()),
    # The form; a failed sign-in shows it again (Django's FormView takes PUT as POST).
    "login": page(GET=public(), POST=public(), PUT=public()),
    "logout": page(POST=public(LOGIN)),
    "dashboard:favicon": page(GET=public("302")),  # to the static icon
    # -- pages that are not about one space
    "home": page(GET=signed_in()),
    "dashboard:switch": page(GET=signed_in("302", query=lambda w: {"space": w.ids["space"]})),
    # -- a space's home (its overview) and the memory browser
    "dashboard:home": page(GET=read()),
    "dashboard:browse": page(GET=read()),
    "dashboard:bulk": page(
        POST=write(
            "302", body=lambda w: {"action": "archive", "ids": [w.ids["memory"]], "confirmed": "on"}
        )
    ),
    "dashboard:undo": page(POST=write("302", body=lambda w: {"token": "nothing-to-undo"})),
    # -- one memory
    "dashboard:memory_new": page(
        GET=write(),
        POST=write(
            "302",
            body=lambda w: {
                "content": "A curator's note.",
                "kind": "fact",
                "importance": "0.5",
                "confidence": "1",
            },
        ),
    ),
    "dashboard:memory": page(GET=read()),
    "dashboard:memory_edit": page(POST=write("302", body=edit_form)),
    "dashboard:memory_status": page(POST=write("302", body=lambda w: {"action": "archive"})),
    "dashboard:memory_versions": page(GET=read(query=lambda w: {"a": 1, "b": 2})),
    "dashboard:memory_revert": page(
        POST=write("302", body=lambda w: {"to_version": 1, "version": 2})
    ),
    "dashboard:memory_purge": page(
        POST=admin("302", body=lambda w: {"reason": "matrix", "confirm": "on"})
    ),
    "dashboard:memory_redact": page(
        POST=write(
            "302",
            body=lambda w: {"text": "Alice", "type": "name", "reason": "matrix", "version": 2},
        )
    ),
    "dashboard:memory_unsupersede": page(POST=write("302")),  # not superseded: a message
    # -- conversations, timeline, graph, map
    "dashboard:sessions": page(GET=read()),
    "dashboard:session": page(GET=read()),
    "dashboard:entities": page(GET=read()),
    "dashboard:entity": page(GET=read()),
    "dashboard:episode": page(GET=read("302")),  # to its place in the session's transcript
    "dashboard:timeline": page(GET=read()),
    "dashboard:then": page(GET=read()),
    # -- the recall simulator: simulating is reading; acting on a hit is writing
    "dashboard:recall": page(GET=read(query=lambda w: {"q": "tea", "mode": "text"})),
    "dashboard:recall_pin": page(POST=write("302", body=lambda w: {"version": "2"})),
    "dashboard:recall_status": page(POST=write("302", body=lambda w: {"action": "archive"})),
    "dashboard:recall_edit": page(
        POST=write("302", body=lambda w: {"content": "Alice likes oolong.", "version": "2"})
    ),
    "dashboard:recall_link": page(
        POST=write(
            "302",
            body=lambda w: {"target": w.ids["other"], "type": LinkType.RELATED_TO},
            names_objects=True,
        )
    ),
    "dashboard:graph": page(GET=read()),
    "dashboard:map": page(GET=read()),
    "dashboard:map_project": page(POST=write("302")),
    "dashboard:map_point": page(GET=read("302")),  # without htmx: to the memory's page
    # A selection only lists memories; it is a POST for its long list of points.
    "dashboard:map_selection": page(POST=read(body=lambda w: {"ordinals": "0"})),
    # -- review queue
    "dashboard:review": page(GET=read()),
    "dashboard:review_run": page(POST=write("302")),
    "dashboard:review_approve_many": page(  # unconfirmed: the confirmation page
        POST=write(body=lambda w: {"operation": "merge", "min_score": "0"})
    ),
    "dashboard:review_approve": page(POST=write("302")),
    "dashboard:review_reject": page(POST=write("302")),
    "dashboard:review_undo": page(POST=write("302")),  # still pending: a message
    # -- hygiene flags (nothing selected: a message, and back to the page)
    "dashboard:flags": page(GET=read()),
    "dashboard:flags_act": page(POST=write("302", body=lambda w: {"action": "dismiss"})),
    "dashboard:flags_scan": page(POST=write("302")),
    # -- retrieval health (Measure now queues a job and goes back to the panel)
    "dashboard:health": page(GET=read()),
    "dashboard:health_measure": page(POST=write("302")),
    # -- activity, tokens
    "dashboard:audit": page(GET=read()),
    "dashboard:jobs": page(GET=read(), POST=write("302")),  # POST: start a re-embed
    "dashboard:job": page(GET=read()),
    "dashboard:tokens": page(
        GET=admin(), POST=admin(body=lambda w: {"name": "new-agent", "scopes": ["memories:read"]})
    ),
    "dashboard:token_revoke": page(POST=admin("302")),
    "dashboard:settings": page(
        GET=admin(),
        POST=admin(
            "302",
            body=lambda w: {
                "name": "Home, renamed",
                "hygiene.secret": "reject",
                "hygiene.pii": "flag",
                "hygiene.injection": "flag",
            },
        ),
    ),
    # -- API: memories
    "memory-list": api(GET=read(), POST=write("201", body=lambda w: {"content": "New note."})),
    "memory-batch": api(POST=write("201", body=lambda w: {"items": [{"content": "Batched."}]})),
    "memory-merge": api(
        POST=write(
            "201", body=lambda w: {"ids": [w.ids["memory"], w.ids["other"]]}, names_objects=True
        )
    ),
    "memory-detail": api(
        GET=read(),
        PATCH=write(body=lambda w: {"content": "Alice likes oolong."}),
        DELETE=write(),
    ),
    "memory-restore": api({"pk": "archived"}, POST=write(body=lambda w: {})),
    "memory-archive": api(POST=write(body=lambda w: {})),
    "memory-purge": api(POST=admin(body=lambda w: {"reason": "matrix"})),
    "memory-supersede": api(POST=write(body=lambda w: {"memory": {"content": "Now coffee."}})),
    "memory-versions": api(GET=read()),
    "memory-version": api(GET=read()),
    "memory-revert": api(POST=write(body=lambda w: {"version": 1})),
    "memory-redact": api(
        POST=write(
            body=lambda w: {"spans": [{"start": 0, "end": 5, "type": "name"}], "reason": "x"}
        )
    ),
    "memory-access": api(GET=read()),
    "memory-links": api(GET=read()),
    # -- API: conversation, search
    "episode-list": api(
        GET=read(), POST=write("201", body=lambda w: {"messages": [{"content": "Hello."}]})
    ),
    "episode-detail": api(GET=read()),
    "episode-memories": api(GET=read()),
    # Searching is reading (a query that matches nothing: no recall task is queued).
    "search-list": api(POST=read(body=lambda w: {"query": "zebra xylophone", "mode": "text"})),
    # Whoever may search may say whether a search's hits were useful.
    "recall-feedback": api(POST=read(body=lambda w: {"useful": [w.ids["memory"]]})),
    # -- API: relations
    "link-list": api(
        GET=read(),
        POST=write(
            "201",
            body=lambda w: {
                "source": w.ids["other"],
                "target": w.ids["memory"],
                "type": LinkType.CONTRADICTS,
            },
            names_objects=True,
        ),
    ),
    "link-detail": api(GET=read(), DELETE=write("204")),
    "entity-list": api(GET=read()),
    "entity-detail": api(GET=read()),
    "graph-list": api(
        GET=read(query=lambda w: {"center": f"memory:{w.ids['memory']}"}, names_objects=True)
    ),
    "audit-list": api(GET=read()),
    # -- API: consolidation
    "proposal-list": api(GET=read()),
    "proposal-detail": api(GET=read()),
    "proposal-approve": api(POST=write(body=lambda w: {})),
    "proposal-reject": api(POST=write(body=lambda w: {})),
    "proposal-undo": api(POST=write("409")),  # the world's proposal is pending, not applied
    "consolidate-list": api(POST=write("202", body=lambda w: {})),
    # -- API: administration
    "space-list": api(GET=signed_in()),  # any caller: the spaces they can see
    "space-detail": api(GET=read(), PATCH=admin(body=lambda w: {"name": "Home, renamed"})),
    "space-health": api(GET=read()),
    "token-list": api(
        GET=admin(),
        POST=admin("201", body=lambda w: {"name": "new-agent", "scopes": ["memories:read"]}),
    ),
    "token-detail": api(DELETE=admin()),  # revoke
    # -- API: transfer
    "export-list": api(GET=read()),
    "import-list": api(POST=write(body=lambda w: "\n", content_type=JSONL)),
}

# ---------------------------------------------------------------- the URL conf


SKIPPED_NAMESPACES = {"admin"}  # Django's admin: is_staff, its own login, not ours to test


@dataclass(frozen=True)
class Pattern:
    name: str
    route: str
    kwargs: tuple[str, ...]
    callback: Callable[..., Any]

    @property
    def basename(self) -> str:
        return self.name.split(":")[-1].split("-")[0]


def url_patterns() -> list[Pattern]:
    found: list[Pattern] = []

    def walk(
        entries: Sequence[URLPattern | URLResolver],
        namespace: str,
        route: str,
        kwargs: tuple[str, ...],
    ) -> None:
        for entry in entries:
            names = kwargs + tuple(entry.pattern.regex.groupindex)
            here = route + str(entry.pattern)
            if isinstance(entry, URLResolver):
                if entry.namespace in SKIPPED_NAMESPACES:
                    continue
                inner = ":".join(part for part in (namespace, entry.namespace) if part)
                walk(entry.url_patterns, inner, here, names)
            elif not here.lstrip("^").startswith(settings.STATIC_URL.lstrip("/")):
                name = f"{namespace}:{entry.name}" if namespace and entry.name else entry.name
                found.append(Pattern(name or "", here, names, entry.callback))

    walk(get_resolver().url_patterns, "", "", ())
    return found


# Which object of the World fills a path kwarg: by the converter's name, and for the
# routers' `pk` by the viewset's basename.
KWARG_OBJECTS = {
    "slug": "space",
    "memory_id": "memory",
    "episode_id": "episode",
    "session": "session",
    "projection_id": "projection",
    "ordinal": "ordinal",
    "proposal_id": "proposal",
    "job_id": "job",
    "entity_id": "entity",
    "token_id": "token",
    "number": "version",
}
PK_OBJECTS = {
    "memory": "memory",
    "episode": "episode",
    "link": "link",
    "entity": "entity",
    "proposal": "proposal",
    "token": "token",
    "recall": "recall",
}


def object_for(pattern: Pattern, kwarg: str) -> str | None:
    override = RULES[pattern.name].objects.get(kwarg) if pattern.name in RULES else None
    if override:
        return override
    if kwarg == "pk":
        return PK_OBJECTS.get(pattern.basename)
    return KWARG_OBJECTS.get(kwarg)


def url_of(pattern: Pattern, world: World, foreign: World | None = None) -> str:
    """The pattern's URL for `world`'s objects; with `foreign`, its objects are taken
    from that other space instead (a page's space slug stays `world`'s)."""
    kwargs = {}
    for kwarg in pattern.kwargs:
        source = world
        if foreign is not None and not (RULES[pattern.name].kind == PAGE and kwarg == "slug"):
            source = foreign
        kwargs[kwarg] = source.ids[object_for(pattern, kwarg) or ""]
    return reverse(pattern.name, kwargs=kwargs)


# ---------------------------------------------------------------- the data


@dataclass
class World:
    """One of each object the URLs name, in one space; `ids` fills the URLs."""

    space: Space
    ids: dict[str, str]


def build_world(space: Space, embed_now: Callable[[Space], int]) -> World:
    actor = Actor.system("matrix")
    episode = services.record_episode(
        space, actor, content="I like green tea.", session=f"{space.slug}-call", speaker="Alice"
    )
    memory = services.create_memory(
        space,
        actor,
        content="Alice likes green tea.",
        kind="fact",
        importance=0.5,
        confidence=0.9,
        source_episodes=[episode.pk],
    )
    memory = services.update_memory(
        space, actor, memory.pk, expected_version=1, tags=["drinks"]
    )  # two versions, to compare and revert
    other = services.create_memory(space, actor, content="Bob plays the cello on Sundays.")
    archived = services.create_memory(space, actor, content="Alice lived in Lisbon.")
    services.archive_memory(space, actor, archived.pk)
    link = services.link_memories(space, actor, memory.pk, other.pk, LinkType.RELATED_TO)
    entity = Entity.objects.for_space(space).create(
        space=space, name="Alice", normalized_name=Entity.normalize("Alice"), kind="person"
    )
    Mention.objects.for_space(space).create(space=space, entity=entity, memory=memory)
    services.create_memories(
        space, actor, [{"content": "Maya likes tea."}, {"content": "maya likes TEA"}]
    )
    embed_now(space)
    (proposal,) = consolidation.propose_merges(space)
    job = Job.objects.create(kind="reembed", space=space, status=Job.Status.SUCCEEDED)
    projection = Projection.objects.for_space(space).create(
        space=space, embedding_model="test", points=1, clusters=1, finished_at=timezone.now()
    )
    MapPoint.objects.for_space(space).create(
        projection=projection,
        space=space,
        memory=memory,
        ordinal=0,
        x=0.0,
        y=0.0,
        cluster=0,
        nearest_similarity=0.5,
    )
    token, _ = ApiToken.issue(space=space, name="spare", scopes=[Scope.MEMORIES_READ])
    recall = Recall.objects.for_space(space).create(
        space=space,
        query="what does Alice drink?",
        mode="hybrid",
        memory_ids=[memory.pk, other.pk],
        **actor.as_fields(),
    )
    return World(
        space,
        {
            "space": space.slug,
            "memory": str(memory.pk),
            "other": str(other.pk),
            "archived": str(archived.pk),
            "episode": str(episode.pk),
            "session": episode.session,
            "link": str(link.pk),
            "entity": str(entity.pk),
            "proposal": str(proposal.pk),
            "job": str(job.pk),
            "projection": str(projection.pk),
            "ordinal": "0",
            "token": str(token.pk),
            "version": "1",
            "recall": str(recall.pk),
        },
    )


@pytest.fixture
def world(space: Space, hashing_backend: Any, embed_now: Callable[[Space], int]) -> World:
    return build_world(space, embed_now)


@pytest.fixture
def foreign_world(
    outsider_space: Space, hashing_backend: Any, embed_now: Callable[[Space], int]
) -> World:
    return build_world(outsider_space, embed_now)


# ---------------------------------------------------------------- the callers


@dataclass(frozen=True)
class Caller:
    name: str
    role: str | None = None  # a person: their role where they are a member
    scopes: tuple[str, ...] | None = None  # an agent: its token's scopes
    home: bool = True  # a member (or token) of the space under test; else of another

    @property
    def anonymous(self) -> bool:
        return self.role is None and self.scopes is None

    @property
    def person(self) -> bool:
        return self.role is not None

    def has(self, scope: str) -> bool:
        held = PERSON_SCOPES[Role(self.role)] if self.role else set(self.scopes or ())
        return scope in held or Scope.ADMIN in held


CALLERS = [
    Caller("anonymous"),
    Caller("viewer", role=Role.VIEWER),
    Caller("editor", role=Role.EDITOR),
    Caller("admin", role=Role.ADMIN),
    Caller("outsider", role=Role.ADMIN, home=False),
    *(Caller(f"agent:{scope}", scopes=(scope,)) for scope in Scope.values),
    Caller("outsider-agent", scopes=(Scope.ADMIN,), home=False),
]
BY_NAME = {caller.name: caller for caller in CALLERS}


@pytest.fixture
def client_for(space: Space, outsider_space: Space) -> Callable[[Caller], Client]:
    def make(caller: Caller) -> Client:
        where = space if caller.home else outsider_space
        slug = caller.name.replace(":", "-")
        if caller.scopes is not None:
            _, raw = ApiToken.issue(space=where, name=slug, scopes=list(caller.scopes))
            return Client(headers={"Authorization": f"Bearer {raw}"}, raise_request_exception=False)
        client = Client(raise_request_exception=False)
        if caller.role is not None:
            user = get_user_model().objects.create_user(f"matrix-{slug}")
            Membership.objects.create(space=where, user=user, role=caller.role)
            client.force_login(user)
        return client

    return make


# ---------------------------------------------------------------- expectations


def expected(pattern: Pattern, method: str, caller: Caller) -> str:
    rule = RULES[pattern.name]
    call = rule.calls.get(method)
    if rule.kind == PAGE:
        if call is None:
            return "405"
        if call.need == PUBLIC:
            return call.ok
        if not caller.person:
            return LOGIN
        if call.need == SIGNED_IN:
            return call.ok
        if not caller.home:
            return "404"
        assert caller.role is not None
        if ROLE_RANK[Role(caller.role)] < ROLE_RANK[LEVEL_ROLE[call.need]]:
            return "403"
        return call.ok
    if call is not None and call.need == PUBLIC:
        return call.ok
    if caller.anonymous:
        return "401"
    # What any signed-in caller may do concerns no one space (a person's own spaces).
    if call is not None and call.need == SIGNED_IN and "slug" not in pattern.kwargs:
        return call.ok
    # A person names the space (?space=), a space's own URL names it in its path: one
    # the caller is not in does not exist for them.
    if not caller.home and (caller.person or "slug" in pattern.kwargs):
        return "404"
    if call is not None and call.need == SIGNED_IN:
        return call.ok
    need = call.need if call is not None else (READ if method == "GET" else WRITE)
    if not caller.has(LEVEL_SCOPE[need]):
        return "403"
    if call is None:
        return "405"
    if not caller.home and (pattern.kwargs or call.names_objects):
        return "404"
    return call.ok


def outcome(response: HttpResponseBase) -> str:
    if response.status_code == 302 and response["Location"].startswith(reverse("login")):
        return LOGIN
    return str(response.status_code)


class _Undo(Exception):
    def __init__(self, response: HttpResponseBase) -> None:
        self.response = response


def send(
    client: Client,
    caller: Caller,
    pattern: Pattern,
    method: str,
    world: World,
    url: str | None = None,
) -> HttpResponseBase:
    """The request, rolled back with whatever it changed (rows and cookies)."""
    rule = RULES[pattern.name]
    call = rule.calls.get(method)
    query = dict(call.query(world)) if call and call.query else {}
    if rule.kind == API and caller.person:
        query.setdefault("space", world.space.slug)
    path = url or url_of(pattern, world)
    if query:
        path += "?" + urlencode(query, doseq=True)
    body = call.body(world) if call and call.body else None
    cookies = copy.deepcopy(client.cookies)
    response: HttpResponseBase
    try:
        with transaction.atomic():
            if method == "GET":
                response = client.get(path)
            elif rule.kind == PAGE and method == "POST":
                response = client.post(path, body or {})
            elif rule.kind == PAGE or body is None:
                response = client.generic(method, path)
            elif call is not None and call.content_type != "application/json":
                response = client.generic(method, path, body, content_type=call.content_type)
            else:
                response = client.generic(method, path, json.dumps(body), "application/json")
            if isinstance(response, StreamingHttpResponse):  # an export: read it in here
                for _ in response.streaming_content:
                    pass
            raise _Undo(response)
    except _Undo as undone:
        client.cookies = cookies
        return undone.response
    raise AssertionError("unreachable: the request is always undone")


def matrix_patterns() -> Iterator[Pattern]:
    """Every pattern but those public by design (test_it_serves_the_public_urls)."""
    for pattern in url_patterns():
        calls = RULES[pattern.name].calls.values()
        if not all(call.need == PUBLIC for call in calls):
            yield pattern


def methods_asked(pattern: Pattern) -> list[str]:
    """GET always, and every write method the view takes."""
    return ["GET", *(m for m in RULES[pattern.name].calls if m != "GET")]


def mismatch(pattern: Pattern, method: str, caller: Caller, want: str, got: str) -> str:
    return f"{pattern.name:30} {method:6} {caller.name:22} expected {want:5} got {got}"


# ---------------------------------------------------------------- tests


def test_it_has_a_rule_for_every_url_and_a_url_for_every_rule() -> None:
    patterns = url_patterns()
    names = [p.name for p in patterns]
    problems = [f"no name: {p.route}" for p in patterns if not p.name]
    problems += [f"no rule in RULES for {n}" for n in sorted(set(names) - set(RULES)) if n]
    problems += [f"rule for no URL: {n}" for n in sorted(set(RULES) - set(names))]
    problems += [f"two URLs named {n}" for n in sorted({n for n in names if names.count(n) > 1})]
    for pattern in patterns:
        if pattern.name not in RULES:
            continue
        rule = RULES[pattern.name]
        problems += [
            f"{pattern.name}: nothing fills <{kwarg}>"
            for kwarg in pattern.kwargs
            if object_for(pattern, kwarg) is None
        ]
        problems += [f"{pattern.name}: unknown method {m}" for m in rule.calls if m not in METHODS]
        # A viewset says which methods it takes: the rule must list exactly those.
        # DRF adds "head" to a viewset's actions at its first GET: HEAD is GET's.
        actions = getattr(pattern.callback, "actions", None)
        taken = {m.upper() for m in actions or ()} - {"HEAD"}
        if actions is not None and taken != set(rule.calls):
            problems.append(
                f"{pattern.name}: the view takes {sorted(taken)}, "
                f"the rule lists {sorted(rule.calls)}"
            )
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("caller", CALLERS, ids=[c.name for c in CALLERS])
def test_it_gives_each_caller_what_the_rules_allow(
    caller: Caller, world: World, client_for: Callable[[Caller], Client]
) -> None:
    client = client_for(caller)
    mismatches = []
    asked = 0
    for pattern in matrix_patterns():
        for method in methods_asked(pattern):
            want = expected(pattern, method, caller)
            got = outcome(send(client, caller, pattern, method, world))
            asked += 1
            if got != want:
                mismatches.append(mismatch(pattern, method, caller, want, got))
    assert asked > 50
    assert not mismatches, f"{len(mismatches)} of {asked} requests:\n" + "\n".join(mismatches)


def test_it_refuses_the_methods_a_view_does_not_take(
    world: World, client_for: Callable[[Caller], Client]
) -> None:
    """What the space's admin (a page) or admin token (the API) gets for every method a
    rule does not list: 405, so a view that starts taking a method needs a rule for it."""
    callers = {
        PUBLIC: BY_NAME["anonymous"],
        PAGE: BY_NAME["admin"],
        API: BY_NAME[f"agent:{Scope.ADMIN}"],
    }
    clients = {kind: client_for(caller) for kind, caller in callers.items()}
    mismatches = []
    for pattern in url_patterns():
        rule = RULES[pattern.name]
        kind = PUBLIC if all(c.need == PUBLIC for c in rule.calls.values()) else rule.kind
        for method in METHODS:
            if method in rule.calls:
                continue
            caller = callers[kind]
            got = outcome(send(clients[kind], caller, pattern, method, world))
            if got != "405":
                mismatches.append(mismatch(pattern, method, caller, "405", got))
    assert not mismatches, "\n".join(mismatches)


def test_it_serves_the_public_urls_to_anyone(
    world: World, client_for: Callable[[Caller], Client]
) -> None:
    anonymous = BY_NAME["anonymous"]
    client = client_for(anonymous)
    public_patterns = [
        p for p in url_patterns() if all(c.need == PUBLIC for c in RULES[p.name].calls.values())
    ]
    assert {p.name for p in public_patterns} == {
        "health",
        "schema",
        "api-docs",
        "login",
        "logout",
        "dashboard:favicon",
    }
    mismatches = []
    for pattern in public_patterns:
        for method, call in RULES[pattern.name].calls.items():
            got = outcome(send(client, anonymous, pattern, method, world))
            if got != call.ok:
                mismatches.append(mismatch(pattern, method, anonymous, call.ok, got))
    assert not mismatches, "\n".join(mismatches)


def test_it_finds_no_object_of_another_space_through_this_one(
    world: World, foreign_world: World, client_for: Callable[[Caller], Client]
) -> None:
    """The space's admin (page: this space's slug, the other space's ids) and admin
    token (API) asking for another space's objects: 404 for every method, never 403."""
    callers = {PAGE: BY_NAME["admin"], API: BY_NAME[f"agent:{Scope.ADMIN}"]}
    clients = {kind: client_for(caller) for kind, caller in callers.items()}
    mismatches = []
    asked = 0
    for pattern in matrix_patterns():
        rule = RULES[pattern.name]
        objects = [k for k in pattern.kwargs if not (rule.kind == PAGE and k == "slug")]
        if not objects:
            continue
        url = url_of(pattern, world, foreign=foreign_world)
        caller = callers[rule.kind]
        for method in rule.calls:
            got = outcome(send(clients[rule.kind], caller, pattern, method, world, url=url))
            asked += 1
            if got != "404":
                mismatches.append(mismatch(pattern, method, caller, "404", got))
    assert asked > 30
    assert not mismatches, "\n".join(mismatches)


def test_every_form_on_every_page_carries_a_csrf_token(
    world: World, client_for: Callable[[Caller], Client]
) -> None:
    """Every page the space's admin can open (the one who sees every form), every
    form that posts: Django's CSRF token inside it."""
    admin_caller = BY_NAME["admin"]
    client = client_for(admin_caller)
    missing = []
    posting_forms = 0
    for pattern in url_patterns():
        if RULES[pattern.name].kind != PAGE or "GET" not in RULES[pattern.name].calls:
            continue
        response = client.get(url_of(pattern, world))
        if response.status_code != 200 or "text/html" not in response["Content-Type"]:
            continue
        html = response.content.decode()
        for form in re.findall(r"<form\b[^>]*>.*?</form>", html, flags=re.S | re.I):
            opening = form[: form.index(">") + 1].lower()
            if 'method="post"' not in opening and "hx-post" not in opening:
                continue
            posting_forms += 1
            if 'name="csrfmiddlewaretoken"' not in form:
                missing.append(f"{pattern.name}: {opening[:120]}")
    assert posting_forms > 10
    assert not missing, "\n".join(missing)
