"""Locust load profiles for nextbest: call-centre agents, web-shop visitors, or both.

    locust -f loadtests/locustfile.py --headless --host http://127.0.0.1:8000 \\
        --users 50 --spawn-rate 10 --run-time 2m --max-requests 20000 [CLASS ...]

CLASS picks the profile: `CallCentreAgent`, `WebShopVisitor`, or none for the mixed
profile (both, one agent to three web visitors). Runs stop at --run-time or after
--max-requests requests, whichever comes first. Decisions are recorded for customers of
a reserved range (`LT-000001`...) unless --dry-run; see loadtests/README.md.
"""

from __future__ import annotations

import itertools
import logging
import random
import time
from collections import Counter
from pathlib import Path
from typing import Any

import gevent
import scenarios
from gevent.pool import Group
from locust import FastHttpUser, events, task
from locust.env import Environment

CALL_CHANNEL = "call_center"
WEB_CHANNEL = "web"

_log = logging.getLogger("nextbest.loadtest")


class _Run:
    """What one Locust process shares between its users."""

    def __init__(self) -> None:
        self.pool: scenarios.CustomerPool | None = None
        self.time_scale = 0.02
        self.dry_run = False
        self.seed = random.randrange(2**32)
        self.max_requests = 0
        self.requests = 0
        self.stopping = False
        self.users = itertools.count()
        self.offers: Counter[str] = Counter()
        self.caps: Counter[str] = Counter()
        self.feedback: Counter[str] = Counter()
        self.explained = 0

    def customer_pool(self) -> scenarios.CustomerPool:
        if self.pool is None:
            raise RuntimeError("the locustfile's init hook has not run")
        return self.pool


RUN = _Run()


@events.init_command_line_parser.add_listener
def _arguments(parser: Any) -> None:
    group = parser.add_argument_group("nextbest load profile")
    group.add_argument(
        "--max-requests",
        type=int,
        default=0,
        env_var="LOCUST_MAX_REQUESTS",
        help="stop after this many requests (decisions and feedback; 0: no limit; per "
        "Locust process)",
    )
    group.add_argument(
        "--bundle-dir",
        default=str(scenarios.DEMO_BUNDLE),
        env_var="LOCUST_BUNDLE_DIR",
        help="directory of the bundle the target serves, for its vocabulary (default: demo)",
    )
    group.add_argument(
        "--customers",
        type=int,
        default=50_000,
        env_var="LOCUST_CUSTOMERS",
        help="size of the load-test customer range (default 50000)",
    )
    group.add_argument(
        "--customer-prefix",
        default="LT-",
        env_var="LOCUST_CUSTOMER_PREFIX",
        help="prefix of load-test customer ids, a range no real customer has (default LT-)",
    )
    group.add_argument(
        "--customer-skew",
        type=float,
        default=0.8,
        env_var="LOCUST_CUSTOMER_SKEW",
        help="Zipf exponent of the customer draw; higher: the same customers more often",
    )
    group.add_argument(
        "--time-scale",
        type=float,
        default=0.02,
        env_var="LOCUST_TIME_SCALE",
        help="multiplies real-life durations (talk time, page reading); 1: real time, one "
        "user per agent or visitor; default 0.02 (a 4-minute call takes about 5 s)",
    )
    group.add_argument(
        "--dry-run",
        action="store_true",
        default=False,
        env_var="LOCUST_DRY_RUN",
        help="send dry-run decisions and no feedback: nothing is recorded",
    )
    group.add_argument(
        "--seed", type=int, default=None, env_var="LOCUST_SEED", help="for a repeatable run"
    )


@events.init.add_listener
def _init(environment: Environment, **_: Any) -> None:
    options = environment.parsed_options
    vocabulary = scenarios.load_vocabulary(
        Path(options.bundle_dir) if options else scenarios.DEMO_BUNDLE
    )
    vocabulary.require_channel(CALL_CHANNEL)
    vocabulary.require_channel(WEB_CHANNEL)
    if options is not None:
        RUN.pool = scenarios.CustomerPool(
            vocabulary,
            size=options.customers,
            skew=options.customer_skew,
            prefix=options.customer_prefix,
        )
        RUN.time_scale = options.time_scale
        RUN.dry_run = options.dry_run
        RUN.max_requests = options.max_requests
        if options.seed is not None:
            RUN.seed = options.seed
    else:
        RUN.pool = scenarios.CustomerPool(vocabulary)

    def count(**_: Any) -> None:
        RUN.requests += 1
        if RUN.max_requests and RUN.requests >= RUN.max_requests and not RUN.stopping:
            RUN.stopping = True
            _log.info("stopping: %d requests sent (--max-requests)", RUN.requests)
            if environment.runner is not None:
                gevent.spawn(environment.runner.quit)

    environment.events.request.add_listener(count)


@events.quitting.add_listener
def _summary(**_: Any) -> None:
    _log.info(
        "nextbest load profile: %d requests; offers returned by category %s; feedback %s; "
        "held back by caps in the %d explained decisions %s",
        RUN.requests,
        dict(RUN.offers),
        dict(RUN.feedback),
        RUN.explained,
        dict(RUN.caps),
    )


class _NextbestUser(FastHttpUser):
    abstract = True

    def on_start(self) -> None:
        self.rng = random.Random(f"{RUN.seed}:{next(RUN.users)}")

    def decide(self, body: dict[str, Any], name: str) -> dict[str, Any] | None:
        """The decision response, or None when the request failed."""
        with self.client.post(
            "/v1/decisions", json=body, name=name, catch_response=True
        ) as response:
            if response.status_code != 200:
                response.failure(f"status {response.status_code}: {(response.text or '')[:200]}")
                return None
            try:
                answer: dict[str, Any] = response.json()
            except ValueError:
                response.failure(f"not JSON: {(response.text or '')[:200]}")
                return None
            if answer.get("degraded"):
                response.failure(f"degraded: {', '.join(answer['degraded'])}")
        for offer in answer["offers"]:
            RUN.offers[offer["category"]] += 1
        if answer.get("explanation"):
            RUN.explained += 1
            for candidate in answer["explanation"]["candidates"]:
                reason = candidate.get("reason") or ""
                if reason.startswith("cap:"):
                    RUN.caps[reason[4:]] += 1
        return answer

    def report(self, answer: dict[str, Any], offer_id: str, outcome: str) -> None:
        if RUN.dry_run:
            return
        body = {
            "decision_id": answer["decision_id"],
            "customer_id": answer["customer_id"],
            "offer_id": offer_id,
            "channel": answer["channel"],
            "outcome": outcome,
        }
        RUN.feedback[outcome] += 1
        with self.client.post(
            "/v1/feedback", json=body, name=f"/v1/feedback [{outcome}]", catch_response=True
        ) as response:
            if response.status_code != 202:
                response.failure(f"status {response.status_code}: {(response.text or '')[:200]}")


class CallCentreAgent(_NextbestUser):
    """One agent taking one call after another: a decision when the call starts, the
    pitched suggestions reported as presented, the answers when the call ends."""

    weight = 1
    _after_call_s = 0.0

    def wait_time(self) -> float:
        return self._after_call_s

    @task
    def take_call(self) -> None:
        call = scenarios.new_call(
            self.rng,
            RUN.customer_pool(),
            channel=CALL_CHANNEL,
            time_scale=RUN.time_scale,
            dry_run=RUN.dry_run,
        )
        self._after_call_s = call.after_call_s
        answer = self.decide(call.body, f"/v1/decisions [{CALL_CHANNEL}]")
        if answer is None:
            return
        plan = scenarios.plan_call(self.rng, answer["offers"])
        gevent.sleep(call.talk_s)
        for offer_id in plan.pitched:
            self.report(answer, offer_id, "presented")
        gevent.sleep(call.rest_s)
        for offer_id, outcome in plan.answers:
            self.report(answer, offer_id, outcome)


class WebShopVisitor(_NextbestUser):
    """One logged-in visitor after another: each page asks for offers for all its
    placements at once and reports impressions, clicks and closed banners."""

    weight = 3

    def wait_time(self) -> float:
        return scenarios.between_visits_s(self.rng, RUN.time_scale) / scenarios.burst_factor(
            time.time()
        )

    @task
    def visit(self) -> None:
        views = scenarios.plan_visit(
            self.rng,
            RUN.customer_pool(),
            channel=WEB_CHANNEL,
            time_scale=RUN.time_scale,
            dry_run=RUN.dry_run,
        )
        for view in views:
            group = Group()
            answers = [
                group.spawn(self.decide, p.body, f"/v1/decisions [{WEB_CHANNEL}]")
                for p in view.placements
            ]
            group.join()
            for greenlet in answers:
                answer = greenlet.value
                if answer is None:
                    continue
                for offer_id, outcome in scenarios.impression_outcomes(self.rng, answer["offers"]):
                    self.report(answer, offer_id, outcome)
            gevent.sleep(view.read_s / scenarios.burst_factor(time.time()))
