"""What the load profiles send: the bundle's vocabulary, a skewed customer population,
call-centre calls and web-shop page views with their feedback.

Plain Python (random, PyYAML), no Locust: the locustfile drives these, and the tests
check them against the service's own wire types without importing Locust (whose gevent
monkey-patching must stay out of the test process).
"""

from scenarios.calls import Call, CallPlan, new_call, plan_call
from scenarios.customers import CustomerPool
from scenarios.vocabulary import DEMO_BUNDLE, Vocabulary, load_vocabulary
from scenarios.web import (
    PageView,
    Placement,
    between_visits_s,
    burst_factor,
    impression_outcomes,
    plan_visit,
)

__all__ = [
    "DEMO_BUNDLE",
    "Call",
    "CallPlan",
    "CustomerPool",
    "PageView",
    "Placement",
    "Vocabulary",
    "between_visits_s",
    "burst_factor",
    "impression_outcomes",
    "load_vocabulary",
    "new_call",
    "plan_call",
    "plan_visit",
]
