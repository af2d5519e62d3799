"""The dashboard's conversation, audit, jobs and token pages: who may see and do what,
what the database holds afterwards, and how each page behaves with and without htmx."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from typing import Any
from urllib.parse import unquote

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apps.audit.actors import Actor
from apps.audit.models import AuditEvent
from apps.audit.services import record_event
from apps.dashboard.views import activity, conversation
from apps.jobs.models import Job
from apps.memories import services
from apps.memories.models import Episode
from apps.spaces.models import ApiToken, Membership, Role, Scope, Space

HX = {"HTTP_HX_REQUEST": "true"}
POLLING = "every 2s [document.visibilityState === 'visible']"


# ------------------------------------------------------------------ people and data


def _member(username: str, space: Space, role: str) -> Any:
    user = get_user_model().objects.create_user(username, password=f"pw-{username}-123456")
    Membership.objects.create(space=space, user=user, role=role)
    return user


@pytest.fixture
def viewer(space: Space) -> Any:
    return _member("vera", space, Role.VIEWER)


@pytest.fixture
def admin(space: Space) -> Any:
    return _member("adam", space, Role.ADMIN)


@pytest.fixture
def outsider(outsider_space: Space) -> Any:
    """An admin of another space, and nothing of `space`."""
    return _member("otto", outsider_space, Role.ADMIN)


def signed_in(client: Client, user: Any) -> Client:
    client.force_login(user)
    return client


def _at(minutes: int) -> Any:
    return timezone.now() - timedelta(days=1) + timedelta(minutes=minutes)


@pytest.fixture
def chat(space: Space, actor: Actor) -> dict[str, Any]:
    """A three-message session; a memory derived from the second message."""
    episodes = services.record_episodes(
        space,
        actor,
        [
            {"content": "Hi, planning a trip.", "session": "trip/2024", "speaker": "Ann",
             "role": "user", "occurred_at": _at(1)},
            {"content": "I only drink green tea.", "session": "trip/2024", "speaker": "Ann",
             "role": "user", "occurred_at": _at(2)},
            {"content": "Noted, green tea.", "session": "trip/2024", "speaker": "Bot",
             "role": "assistant", "occurred_at": _at(3)},
        ],
    )  # fmt: skip
    memory = services.create_memory(
        space, actor, content="Ann drinks green tea.", kind="preference",
        source_episodes=[episodes[1].pk],
    )  # fmt: skip
    return {"episodes": episodes, "memory": memory, "session": "trip/2024"}


@pytest.fixture
def other_chat(outsider_space: Space, actor: Actor) -> Episode:
    return services.record_episodes(
        outsider_space, actor, [{"content": "Secret.", "session": "hidden-session"}]
    )[0]


@pytest.fixture
def running_job(space: Space) -> Job:
    return Job.objects.create(
        kind="reembed", space=space, status=Job.Status.RUNNING, total=10, done=4,
        started_at=timezone.now(), params={"model": "hashing-384"},
    )  # fmt: skip


@pytest.fixture
def finished_job(space: Space) -> Job:
    return Job.objects.create(
        kind="reembed", space=space, status=Job.Status.SUCCEEDED, total=10, done=10,
        counts={"embedded": 10}, started_at=timezone.now(), finished_at=timezone.now(),
    )  # fmt: skip


@pytest.fixture
def agent_token(space: Space) -> ApiToken:
    token, _raw = ApiToken.issue(space=space, name="support-bot", scopes=[Scope.MEMORIES_READ])
    return token


def url(name: str, space: Space, *args: Any) -> str:
    return reverse(f"dashboard:{name}", args=[space.slug, *args])


def _get_urls(space: Space, chat: dict[str, Any], job: Job) -> list[str]:
    return [
        url("sessions", space),
        url("session", space, chat["session"]),
        url("episode", space, chat["episodes"][0].pk),
        url("audit", space),
        url("jobs", space),
        url("job", space, job.pk),
    ]


# ------------------------------------------------------------------ who may see what


def test_it_sends_anonymous_visitors_to_the_login_page(client, space, chat, running_job,
                                                        agent_token):  # fmt: skip
    posts = [url("jobs", space), url("tokens", space), url("token_revoke", space, agent_token.pk)]
    for target in [*_get_urls(space, chat, running_job), url("tokens", space)]:
        response = client.get(target)
        assert response.status_code == 302, target
        assert response["Location"].startswith("/login/"), target
    for target in posts:
        response = client.post(target, {"name": "x", "scopes": ["admin"]})
        assert response.status_code == 302, target
        assert response["Location"].startswith("/login/"), target
    assert Job.objects.for_space(space).count() == 1
    assert ApiToken.objects.filter(space=space).count() == 1
    assert ApiToken.objects.get(pk=agent_token.pk).revoked_at is None


def test_it_hides_the_space_from_members_of_other_spaces(client, outsider, space, chat,
                                                         running_job, agent_token):  # fmt: skip
    signed_in(client, outsider)
    for target in [*_get_urls(space, chat, running_job), url("tokens", space)]:
        assert client.get(target).status_code == 404, target
    assert client.post(url("jobs", space)).status_code == 404
    assert client.post(url("tokens", space), {"name": "x", "scopes": ["admin"]}).status_code == 404
    assert client.post(url("token_revoke", space, agent_token.pk)).status_code == 404
    assert Job.objects.for_space(space).count() == 1
    assert ApiToken.objects.filter(space=space).count() == 1
    assert ApiToken.objects.get(pk=agent_token.pk).revoked_at is None


def test_it_answers_404_for_another_spaces_objects_under_ones_own_space(
    client, admin, space, outsider_space, other_chat
):
    foreign_job = Job.objects.create(kind="reembed", space=outsider_space)
    foreign_token, _raw = ApiToken.issue(space=outsider_space, name="theirs", scopes=["admin"])
    signed_in(client, admin)
    assert client.get(url("session", space, "hidden-session")).status_code == 404
    assert client.get(url("episode", space, other_chat.pk)).status_code == 404
    assert client.get(url("job", space, foreign_job.pk)).status_code == 404
    assert client.get(url("job", space, foreign_job.pk), **HX).status_code == 404
    assert client.post(url("token_revoke", space, foreign_token.pk)).status_code == 404
    foreign_token.refresh_from_db()
    assert foreign_token.revoked_at is None
    assert not AuditEvent.objects.for_space(space).filter(action="token.revoke").exists()
    assert "Secret." not in client.get(url("sessions", space)).content.decode()


def test_it_shows_a_viewer_every_page_but_the_tokens(client, viewer, space, chat, running_job):
    signed_in(client, viewer)
    for target in _get_urls(space, chat, running_job):
        response = client.get(target, follow=True)
        assert response.status_code == 200, target
    response = client.get(url("tokens", space))
    assert response.status_code == 403
    html = response.content.decode()
    assert "do that here" in html
    assert "needs the admin role" in html
    assert 'href="/"' in html


def test_it_refuses_a_viewers_writes_and_changes_nothing(client, viewer, space, agent_token):
    signed_in(client, viewer)
    assert client.post(url("jobs", space)).status_code == 403
    created = client.post(url("tokens", space), {"name": "mine", "scopes": [Scope.ADMIN]})
    assert created.status_code == 403
    assert client.post(url("token_revoke", space, agent_token.pk)).status_code == 403
    assert not Job.objects.for_space(space).exists()
    assert list(ApiToken.objects.filter(space=space).values_list("name", flat=True)) == [
        "support-bot"
    ]
    assert ApiToken.objects.get(pk=agent_token.pk).revoked_at is None
    assert not AuditEvent.objects.for_space(space).filter(action__startswith="token.").exists()


def test_it_keeps_the_tokens_from_an_editor(client, alice, space, agent_token):
    signed_in(client, alice)
    assert client.get(url("tokens", space)).status_code == 403
    assert client.post(url("tokens", space), {"name": "e", "scopes": ["admin"]}).status_code == 403
    assert client.post(url("token_revoke", space, agent_token.pk)).status_code == 403
    assert ApiToken.objects.filter(space=space).count() == 1
    assert ApiToken.objects.get(pk=agent_token.pk).revoked_at is None


def test_it_refuses_posts_without_a_csrf_token(admin, space, agent_token):
    strict = signed_in(Client(enforce_csrf_checks=True), admin)
    assert strict.post(url("tokens", space), {"name": "x", "scopes": ["admin"]}).status_code == 403
    assert strict.post(url("token_revoke", space, agent_token.pk)).status_code == 403
    assert strict.post(url("jobs", space)).status_code == 403
    assert ApiToken.objects.filter(space=space).count() == 1
    assert ApiToken.objects.get(pk=agent_token.pk).revoked_at is None
    assert not Job.objects.for_space(space).exists()


def test_it_renders_the_helpful_404_page(client, outsider, space):
    signed_in(client, outsider)
    response = client.get(url("sessions", space))
    html = response.content.decode()
    assert response.status_code == 404
    assert "Nothing here" in html
    assert "not a member of" in html
    assert 'href="/"' in html


def test_it_renders_the_404_page_for_anonymous_visitors_too(client, db):
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    assert "Nothing here" in response.content.decode()


# ------------------------------------------------------------------ sessions


def test_it_lists_sessions_with_counts_speakers_and_times(client, viewer, space, chat, actor):
    services.record_episodes(
        space, actor, [{"content": "No session here."}, {"content": "Newer.", "session": "later"}]
    )
    signed_in(client, viewer)
    response = client.get(url("sessions", space))
    html = response.content.decode()
    assert response.status_code == 200
    assert html.index(">later<") < html.index(">trip/2024<")  # newest first
    row = html[html.index(">trip/2024<") :].split("</tr>")[0]
    assert 'class="num">3</td>' in row
    assert ">Ann<" in row and ">Bot<" in row
    assert 'href="/s/home/sessions/trip/2024/"' in html
    listed = html[html.index('id="rows"') :]
    assert listed.count('href="/s/home/sessions/') == 2  # the message without a session is no row
    assert 'aria-current="page">Sessions' in html


def test_it_explains_how_sessions_arrive_when_there_are_none(client, viewer, space):
    signed_in(client, viewer)
    html = client.get(url("sessions", space)).content.decode()
    assert "POST /api/v1/episodes" in html


def test_it_pages_through_many_sessions(client, viewer, space, actor, monkeypatch):
    monkeypatch.setattr(conversation, "SESSIONS_PAGE", 2)
    services.record_episodes(
        space,
        actor,
        [{"content": f"m{i}", "session": f"s{i}", "occurred_at": _at(i)} for i in range(5)],
    )
    signed_in(client, viewer)
    first = client.get(url("sessions", space)).content.decode()
    assert ">s4<" in first and ">s3<" in first and ">s2<" not in first
    more = re.search(r'<a href="\?cursor=([^"]+)">More sessions', first)
    assert more is not None
    partial = client.get(url("sessions", space), {"cursor": unquote(more.group(1))}, **HX)
    body = partial.content.decode()
    assert partial.status_code == 200
    assert "<html" not in body
    assert ">s2<" in body and ">s1<" in body and ">s4<" not in body
    plain = client.get(url("sessions", space), {"cursor": unquote(more.group(1))})
    assert "<html" in plain.content.decode() and ">s2<" in plain.content.decode()


def test_it_starts_over_when_the_sessions_cursor_is_mangled(client, viewer, space, chat):
    signed_in(client, viewer)
    response = client.get(url("sessions", space), {"cursor": "garbage!"})
    assert response.status_code == 200
    assert ">trip/2024<" in response.content.decode()


def test_it_shows_the_transcript_with_derived_memories_beside_their_message(
    client, viewer, space, chat
):
    signed_in(client, viewer)
    response = client.get(url("session", space, chat["session"]))
    html = response.content.decode()
    assert response.status_code == 200
    positions = [html.index(f'id="e-{episode.pk}"') for episode in chat["episodes"]]
    assert positions == sorted(positions)
    message = html[positions[1] : positions[2]]
    assert "I only drink green tea." in message
    assert url("memory", space, chat["memory"].pk) in message
    assert "Preference" in message
    assert url("memory", space, chat["memory"].pk) not in html[positions[0] : positions[1]]
    assert url("memory", space, chat["memory"].pk) not in html[positions[2] :]


def test_it_loads_a_long_transcript_in_a_bounded_number_of_queries(
    client, viewer, space, actor, django_assert_max_num_queries
):
    def make_session(name: str, size: int) -> None:
        episodes = services.record_episodes(
            space,
            actor,
            [{"content": f"msg {i}", "session": name, "occurred_at": _at(i)} for i in range(size)],
        )
        for episode in episodes:
            services.create_memory(space, actor, content=f"about {episode.content}",
                                   source_episodes=[episode.pk])  # fmt: skip

    make_session("short", 2)
    make_session("long", 60)
    signed_in(client, viewer)

    def queries_for(name: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url("session", space, name)).status_code == 200
        return len(captured)

    assert queries_for("long") == queries_for("short")
    with django_assert_max_num_queries(10):
        html = client.get(url("session", space, "long")).content.decode()
    assert html.count('<li id="e-') == 60
    assert html.count("/memories/") >= 60


def test_it_answers_404_for_a_session_without_messages(client, viewer, space, chat):
    signed_in(client, viewer)
    assert client.get(url("session", space, "no-such-session")).status_code == 404


def test_it_pages_a_long_transcript_and_deep_links_land_on_the_right_page(
    client, viewer, space, actor, monkeypatch
):
    monkeypatch.setattr(conversation, "TRANSCRIPT_PAGE", 3)
    episodes = services.record_episodes(
        space,
        actor,
        [{"content": f"line {i}", "session": "long", "occurred_at": _at(i)} for i in range(7)],
    )
    signed_in(client, viewer)
    first = client.get(url("session", space, "long")).content.decode()
    assert "line 2" in first and "line 3" not in first
    assert "Later messages" in first

    response = client.get(url("episode", space, episodes[4].pk))
    assert response.status_code == 302
    location = response["Location"]
    assert location.startswith(url("session", space, "long") + "?cursor=")
    assert location.endswith(f"#e-{episodes[4].pk}")
    page = client.get(location.split("#")[0]).content.decode()
    assert f'id="e-{episodes[4].pk}"' in page
    assert "line 3" in page and "line 5" in page
    assert "line 2" not in page and "line 6" not in page
    assert "From the start of the session" in page

    early = client.get(url("episode", space, episodes[1].pk))
    assert early["Location"] == url("session", space, "long") + f"#e-{episodes[1].pk}"


def test_it_shows_an_episode_without_a_session_on_its_own_page(client, viewer, space, actor):
    lone = services.record_episodes(space, actor, [{"content": "A loose note."}])[0]
    memory = services.create_memory(space, actor, content="Loose fact.", source_episodes=[lone.pk])
    signed_in(client, viewer)
    response = client.get(url("episode", space, lone.pk))
    html = response.content.decode()
    assert response.status_code == 200
    assert "A loose note." in html
    assert f'id="e-{lone.pk}"' in html
    assert url("memory", space, memory.pk) in html


# ------------------------------------------------------------------ audit log


@pytest.fixture
def history(space: Space, actor: Actor, make_memory: Any, agent_token: ApiToken) -> dict[str, Any]:
    kept = make_memory("Kept.")
    services.update_memory(space, actor, kept.pk, expected_version=1, subject="Ann")
    gone = make_memory("Gone.")
    services.purge_memory(space, actor, gone.pk, reason="asked to forget")
    services.record_recall(
        space, Actor.for_token(agent_token), [kept.pk], at=timezone.now(),
        query="what does ann drink", mode="hybrid",
    )  # fmt: skip
    record_event(space, actor, "token.create", target_type="token", target_id=agent_token.pk,
                 summary={"name": agent_token.name, "scopes": agent_token.scopes})  # fmt: skip
    return {"kept": kept, "gone": gone}


def test_it_shows_the_audit_log_newest_first_with_links_and_summaries(
    client, admin, space, history
):
    signed_in(client, admin)
    response = client.get(url("audit", space))
    assert response.status_code == 200
    page = response.content.decode()
    assert '<option value="memory.purge">' in page  # the actions present, as suggestions
    html = page[page.index('aria-label="Audit events"') :]
    assert html.index("token.create") < html.index("memory.recall") < html.index("memory.purge")
    assert url("memory", space, history["kept"].pk) in html
    assert url("memory", space, history["gone"].pk) not in html
    assert "purged" in html
    assert "Reason: asked to forget" in html
    assert "changed subject" in html
    assert "“what does ann drink” (hybrid)" in html
    assert url("tokens", space) + "#token-" in html


def test_it_does_not_link_token_events_for_a_viewer(client, viewer, space, history):
    signed_in(client, viewer)
    html = client.get(url("audit", space)).content.decode()
    assert "token.create" in html
    assert url("tokens", space) not in html


def test_it_filters_the_audit_log(client, viewer, space, history, agent_token):
    signed_in(client, viewer)

    def actions(**params: str) -> list[str]:
        response = client.get(url("audit", space), params)
        assert response.status_code == 200
        return re.findall(r"<code>([a-z]+\.[a-z_]+)</code>", response.content.decode())

    assert set(actions(action="memory.purge")) == {"memory.purge"}
    assert set(actions(action="memory")) == {
        "memory.create", "memory.update", "memory.purge", "memory.recall",
    }  # fmt: skip
    assert set(actions(actor="support-bot")) == {"memory.recall"}
    assert set(actions(actor="token:support-bot")) == {"memory.recall"}
    assert actions(actor="nobody") == []
    assert set(actions(target_type="token")) == {"token.create"}
    assert set(actions(target_type="memory", target_id=str(history["kept"].pk))) == {
        "memory.create", "memory.update", "memory.recall",
    }  # fmt: skip
    today = timezone.localdate()
    assert "memory.purge" in actions(since=str(today), until=str(today))
    assert actions(until=str(today - timedelta(days=1))) == []
    assert actions(since=str(today + timedelta(days=1))) == []
    assert (
        "No events match these filters."
        in client.get(url("audit", space), {"actor": "nobody"}).content.decode()
    )


def test_it_shows_form_errors_for_bad_audit_dates(client, viewer, space, history):
    signed_in(client, viewer)
    response = client.get(url("audit", space), {"since": "yesterday-ish"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "Enter a valid date." in html
    assert "memory.purge</code>" not in html
    backwards = client.get(url("audit", space), {"since": "2024-05-02", "until": "2024-05-01"})
    assert "“Until” is before “Since”." in backwards.content.decode()


def test_it_pages_the_audit_log_with_htmx_and_without(client, viewer, space, history, monkeypatch):
    monkeypatch.setattr(activity, "AUDIT_PAGE", 2)
    signed_in(client, viewer)
    first = client.get(url("audit", space), {"action": "memory"}).content.decode()
    more = re.search(r'<a href="\?([^"]+)">Older events', first)
    assert more is not None
    query = more.group(1).replace("&amp;", "&")
    assert "action=memory" in query
    seen_first = re.findall(r"<code>(memory\.[a-z]+)</code>", first)

    partial = client.get(f"{url('audit', space)}?{query}", **HX)
    body = partial.content.decode()
    assert partial.status_code == 200
    assert "<html" not in body and "<tr" in body
    seen_next = re.findall(r"<code>(memory\.[a-z]+)</code>", body)
    assert len(seen_first) == 2 and len(seen_next) == 2
    everything = AuditEvent.objects.for_space(space).filter(action__startswith="memory.")
    newest = list(everything.order_by("-created_at", "-pk").values_list("action", flat=True))
    assert seen_first + seen_next == newest[:4]

    plain = client.get(f"{url('audit', space)}?{query}")
    assert "<html" in plain.content.decode()


# ------------------------------------------------------------------ jobs


def test_it_polls_a_running_job_while_the_tab_is_visible(client, viewer, space, running_job):
    signed_in(client, viewer)
    html = client.get(url("jobs", space)).content.decode()
    row = html[html.index(f'id="job-{running_job.pk}"') :].split("</tr>")[0]
    assert f'hx-trigger="{POLLING}"' in row
    assert f'hx-get="{url("job", space, running_job.pk)}"' in row
    assert 'max="10" value="4"' in row

    partial = client.get(url("job", space, running_job.pk), **HX).content.decode()
    assert partial.strip().startswith("<tr")
    assert POLLING in partial


def test_it_stops_polling_once_a_job_has_finished(client, viewer, space, running_job):
    signed_in(client, viewer)
    running_job.advance(6, embedded=10)
    running_job.finish()
    partial = client.get(url("job", space, running_job.pk), **HX)
    body = partial.content.decode()
    assert partial.status_code == 200
    assert "<html" not in body
    assert "hx-trigger" not in body and "hx-get" not in body
    assert "Succeeded" in body and "10 memories embedded" in body


def test_it_shows_a_job_on_its_own_page_without_htmx(client, viewer, space, finished_job):
    failed = Job.objects.create(kind="reembed", space=space, status=Job.Status.FAILED,
                                error="EmbeddingError: endpoint down")  # fmt: skip
    signed_in(client, viewer)
    page = client.get(url("job", space, failed.pk)).content.decode()
    assert "<html" in page and "EmbeddingError: endpoint down" in page
    listing = client.get(url("jobs", space)).content.decode()
    assert "EmbeddingError: endpoint down" in listing
    assert "hx-trigger" not in listing
    assert "Start a re-embed" not in listing  # viewers get no button


def test_it_lets_an_editor_start_a_reembed(
    client, alice, space, transactional_db, hashing_backend, monkeypatch
):
    from apps.retrieval import tasks

    queued: list[int] = []
    monkeypatch.setattr(tasks.reembed, "delay", lambda job_id: queued.append(job_id))
    signed_in(client, alice)
    assert "Start a re-embed" in client.get(url("jobs", space)).content.decode()
    response = client.post(url("jobs", space), follow=True)
    assert response.status_code == 200
    job = Job.objects.for_space(space).get()
    assert (job.kind, job.status, job.params) == ("reembed", "queued", {"model": "hashing-384"})
    assert queued == [job.pk]
    assert "is queued" in response.content.decode()


def test_it_explains_an_unreachable_broker_instead_of_failing(
    client, alice, space, transactional_db, hashing_backend, monkeypatch
):
    from kombu.exceptions import OperationalError

    from apps.retrieval import tasks

    def refuse(job_id: int) -> None:
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(tasks.reembed, "delay", refuse)
    signed_in(client, alice)
    response = client.post(url("jobs", space), follow=True)
    assert response.status_code == 200
    assert "task queue (broker) is unreachable" in response.content.decode()
    job = Job.objects.for_space(space).get()
    assert job.status == Job.Status.FAILED
    assert "Could not reach the task queue" in job.error


# ------------------------------------------------------------------ tokens


def test_it_lets_an_admin_issue_a_token_shown_once(client, admin, space):
    signed_in(client, admin)
    form = client.get(url("tokens", space)).content.decode()
    assert "<legend>Scopes</legend>" in form
    assert 'for="id_scopes_0"' in form and 'for="id_name"' in form

    response = client.post(
        url("tokens", space),
        {"name": "support-bot", "scopes": [Scope.MEMORIES_READ, Scope.MEMORIES_WRITE],
         "expires_in_days": "30"},
    )  # fmt: skip
    html = response.content.decode()
    assert response.status_code == 200
    assert "Copy it now" in html
    raw = re.search(r'value="(mw_[^"]+)"', html)
    assert raw is not None
    token = ApiToken.objects.get(space=space, name="support-bot")
    secret = raw.group(1).split("_", 2)[2]
    assert token.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert token.scopes == ["memories:read", "memories:write"]
    assert token.created_by == admin
    assert token.expires_at is not None
    assert timedelta(days=29) < token.expires_at - timezone.now() <= timedelta(days=30)
    assert ApiToken.objects.authenticate(raw.group(1)) == token
    assert "no-store" in response["Cache-Control"]
    event = AuditEvent.objects.for_space(space).get(action="token.create")
    assert (event.target_id, event.actor_label) == (str(token.pk), "user:adam")
    assert event.summary == {"name": "support-bot", "scopes": token.scopes}

    listing = client.get(url("tokens", space)).content.decode()
    assert raw.group(1) not in listing and secret not in listing
    assert f"mw_{token.key_id}_…" in listing


def test_it_refuses_a_duplicate_name_and_empty_scopes(client, admin, space, agent_token):
    signed_in(client, admin)
    duplicate = client.post(url("tokens", space), {"name": "support-bot", "scopes": ["admin"]})
    assert duplicate.status_code == 400
    assert "already has a token with this name" in duplicate.content.decode()
    empty = client.post(url("tokens", space), {"name": "new-bot"})
    assert empty.status_code == 400
    assert "Choose at least one scope." in empty.content.decode()
    assert list(ApiToken.objects.filter(space=space).values_list("name", flat=True)) == [
        "support-bot"
    ]
    assert not AuditEvent.objects.for_space(space).filter(action="token.create").exists()


def test_it_lets_an_admin_revoke_a_token_once(client, admin, space, agent_token):
    signed_in(client, admin)
    response = client.post(url("token_revoke", space, agent_token.pk))
    assert response.status_code == 302
    assert response["Location"] == url("tokens", space)
    agent_token.refresh_from_db()
    assert agent_token.revoked_at is not None
    assert not agent_token.is_active
    events = AuditEvent.objects.for_space(space).filter(action="token.revoke")
    assert [(e.target_id, e.summary) for e in events] == [
        (str(agent_token.pk), {"name": "support-bot"})
    ]
    page = client.get(url("tokens", space)).content.decode()
    assert "is revoked" in page
    assert "revoked " in page and "Revoke token support-bot" not in page

    again = client.post(url("token_revoke", space, agent_token.pk), follow=True)
    assert "already revoked" in again.content.decode()
    assert events.count() == 1


def test_it_answers_405_to_a_get_on_revoke(client, admin, space, agent_token):
    signed_in(client, admin)
    assert client.get(url("token_revoke", space, agent_token.pk)).status_code == 405
    assert ApiToken.objects.get(pk=agent_token.pk).revoked_at is None
