"""Locust users for benchmarks/load.py: agents that store conversation turns and search
(hybrid) through the REST API, and one curator browsing the dashboard.

Run by benchmarks/load.py, which creates the space, its tokens and the dashboard user,
and passes them in a JSON file named by MEMORYWEB_LOAD_CONFIG:

    {"space": slug, "tokens": [...], "username": ..., "password": ..., "wait": seconds,
     "writes": path, "requests": path}

Every acknowledged write (its episodes' ids, and each memory's id and content) is
appended to the `writes` file as one JSON line, and every request (type, name,
milliseconds, success) to the `requests` file, so the script can verify the writes and
compute exact percentiles afterwards. Request names start with their type: `write`,
`search`, `page` or `login`.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import time
import uuid
from pathlib import Path
from typing import Any

from locust import FastHttpUser, between, events, task

CONFIG: dict[str, Any] = json.loads(Path(os.environ["MEMORYWEB_LOAD_CONFIG"]).read_text())
# Open for the whole run, line-buffered.
WRITES = open(CONFIG["writes"], "a", encoding="utf-8", buffering=1)  # noqa: SIM115
REQUESTS = open(CONFIG["requests"], "a", encoding="utf-8", buffering=1)  # noqa: SIM115
WAIT = float(CONFIG.get("wait", 1.0))
# The share of an agent's requests that are writes; the rest are searches.
WRITE_WEIGHT = round(100 * float(CONFIG.get("write_share", 0.4)))
AGENT_NUMBERS = itertools.count()

PEOPLE = ["Maya", "Tomás", "Aiko", "Lena", "Omar", "Priya", "Jonas", "Chen", "Sofia", "Kwame"]
THINGS = [
    "marathon",
    "cello lesson",
    "restaurant opening",
    "sourdough starter",
    "bicycle repair",
    "novel draft",
    "trip to Lisbon",
    "dentist appointment",
    "garden plot",
    "tax return",
    "job interview",
    "piano recital",
]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
FOODS = ["lentil soup", "sushi", "tacos", "ramen", "falafel", "paella", "dumplings", "risotto"]
TEMPLATES = [
    "I moved the {thing} to {day} at {hour}:00 because {person} cannot make it earlier.",
    "{person} said the {thing} will cost about {number} euros this time.",
    "Remember that {person} prefers {food} to {food2}, especially after the {thing}.",
    "The {thing} went well; next step is on {day}, and {person} will bring {number} copies.",
    "I am worried about the {thing}: {person} has not replied since {day}.",
    "Note to self: book {number} seats for the {thing} and tell {person} by {day}.",
]
QUERIES = [
    "when is the {thing}?",
    "what does {person} prefer to eat?",
    "how much will the {thing} cost?",
    "who is bringing copies to the {thing}",
    "{person} {thing} {day}",
    "what did I note about the {thing}?",
]
LOGIN_FORM = 'name="password"'  # only the login page has a password field
MEMORY_LINK = re.compile(r'href="(/s/[^/"]+/memories/[0-9a-f-]{36}/)"')


@events.request.add_listener
def _log_request(
    request_type: str,
    name: str,
    response_time: float,
    exception: BaseException | None = None,
    **_kwargs: Any,
) -> None:
    REQUESTS.write(
        json.dumps(
            {
                "name": name,
                "method": request_type,
                "ms": round(response_time, 3),
                "ok": exception is None,
                "error": None if exception is None else str(exception)[:300],
                "end": time.time(),
            }
        )
        + "\n"
    )


@events.quitting.add_listener
def _close_logs(**_kwargs: Any) -> None:
    WRITES.flush()
    REQUESTS.flush()


def _problem(response: Any) -> str:
    if response.status_code == 0:  # no HTTP answer: the connection failed
        return f"no answer: {response.error!r}"
    return f"status {response.status_code}: {(response.text or '')[:200]}"


def _answer(response: Any, status: int) -> dict[str, Any] | None:
    """The JSON body of an answer with the expected status, else None (marked failed)."""
    if response.status_code != status:
        response.failure(_problem(response))
        return None
    return dict(response.json())


def _fill(template: str, rng: random.Random) -> str:
    food, food2 = rng.sample(FOODS, 2)
    return template.format(
        thing=rng.choice(THINGS),
        person=rng.choice(PEOPLE),
        day=rng.choice(DAYS),
        hour=rng.randint(7, 21),
        number=rng.randint(2, 400),
        food=food,
        food2=food2,
    )


class Agent(FastHttpUser):
    """An LLM agent: stores the turns of its conversations and searches its memory."""

    weight = 20
    wait_time = between(0.5 * WAIT, 1.5 * WAIT)

    def on_start(self) -> None:
        self.number = next(AGENT_NUMBERS)
        self.token = CONFIG["tokens"][self.number % len(CONFIG["tokens"])]
        self.rng = random.Random(self.number)
        self.session = f"agent-{self.number:02d}-session-1"
        self.turn = 0

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}

    @task(WRITE_WEIGHT)
    def write(self) -> None:
        if self.rng.random() < 0.1:  # now and then a new conversation
            self.session = f"agent-{self.number:02d}-session-{self.turn}"
        messages = []
        for _ in range(self.rng.randint(1, 3)):
            self.turn += 1
            # The agent and turn make every text unique, so its own embedding finds it.
            content = (
                f"{_fill(self.rng.choice(TEMPLATES), self.rng)} "
                f"(agent {self.number}, turn {self.turn})"
            )
            messages.append(
                {
                    "content": content,
                    "speaker": self.rng.choice(["user", f"agent-{self.number:02d}"]),
                    "role": "user",
                }
            )
        body = {"session": self.session, "remember": True, "messages": messages}
        headers = {**self._headers(), "Idempotency-Key": str(uuid.uuid4())}
        with self.client.post(
            "/api/v1/episodes",
            json=body,
            headers=headers,
            name="write: POST /api/v1/episodes",
            catch_response=True,
        ) as response:
            data = _answer(response, 201)
            if data is None:
                return
            memories = data.get("memories", [])
            sent = [m["content"] for m in messages]
            if [m.get("content") for m in memories] != sent or len(data["episodes"]) != len(sent):
                response.failure("the answer does not hold the messages sent")
                return
            WRITES.write(
                json.dumps(
                    {
                        "agent": self.number,
                        "episodes": [e["id"] for e in data["episodes"]],
                        "memories": [{"id": m["id"], "content": m["content"]} for m in memories],
                    }
                )
                + "\n"
            )
            response.success()

    @task(100 - WRITE_WEIGHT)
    def search(self) -> None:
        body = {"query": _fill(self.rng.choice(QUERIES), self.rng), "k": 10}
        with self.client.post(
            "/api/v1/search",
            json=body,
            headers=self._headers(),
            name="search: POST /api/v1/search (hybrid)",
            catch_response=True,
        ) as response:
            data = _answer(response, 200)
            if data is None:
                return
            if data.get("mode") != "hybrid" or "hits" not in data:
                response.failure("not a hybrid search answer")
                return
            REQUESTS.write(
                json.dumps(
                    {
                        "name": "server: search",
                        "embed_ms": data["embed_ms"],
                        "db_ms": data["db_ms"],
                        "hits": len(data["hits"]),
                    }
                )
                + "\n"
            )
            response.success()


class Curator(FastHttpUser):
    """One person in the dashboard: the memory browser, a memory, the timeline, the audit log."""

    fixed_count = 1
    wait_time = between(1, 3)

    def on_start(self) -> None:
        self.base = f"/s/{CONFIG['space']}/"
        self.memory_urls: list[str] = []
        self.client.get("/login/", name="login: GET /login/")
        csrf = next((c.value for c in self.client.cookiejar if c.name == "csrftoken"), "")
        with self.client.post(
            "/login/",
            data={
                "username": CONFIG["username"],
                "password": CONFIG["password"],
                "csrfmiddlewaretoken": csrf,
                "next": self.base,
            },
            name="login: POST /login/",
            catch_response=True,
        ) as response:
            if response.status_code != 200 or LOGIN_FORM in (response.text or ""):
                response.failure(f"login failed (status {response.status_code})")
            else:
                response.success()

    def _page(self, url: str, name: str) -> str:
        with self.client.get(url, name=f"page: {name}", catch_response=True) as response:
            if response.status_code != 200:
                response.failure(_problem(response))
                return ""
            if LOGIN_FORM in (response.text or ""):
                response.failure("sent to the login page")
                return ""
            response.success()
            return response.text or ""

    @task(3)
    def browser(self) -> None:
        html = self._page(self.base, "memory browser")
        self.memory_urls = MEMORY_LINK.findall(html) or self.memory_urls

    @task(3)
    def memory(self) -> None:
        if not self.memory_urls:
            self.browser()
        if self.memory_urls:
            self._page(random.choice(self.memory_urls), "memory detail")

    @task(1)
    def timeline(self) -> None:
        self._page(f"{self.base}timeline/", "timeline")

    @task(1)
    def audit(self) -> None:
        self._page(f"{self.base}audit/", "audit log")
