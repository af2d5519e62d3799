"""Per-client rate limit: a fixed window counted in the shared cache (Valkey/Redis)."""

from __future__ import annotations

import logging
import time
from typing import Any

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from apps.core.ratelimit import count_attempt
from apps.spaces.models import ApiToken

logger = logging.getLogger(__name__)


class PerClientRateThrottle(BaseThrottle):
    def allow_request(self, request: Request, view: Any) -> bool:
        limit, period = settings.API_RATE_LIMIT
        if isinstance(request.auth, ApiToken):
            client = f"token:{request.auth.pk}"
        elif request.user is not None and request.user.is_authenticated:
            client = f"user:{request.user.pk}"
        else:
            client = f"ip:{self.get_ident(request)}"
        now = time.time()
        window = int(now // period)
        self._retry_after = period - (now % period)
        key = f"ratelimit:{client}:{period}:{window}"
        try:
            count = count_attempt(key, period + 1)
        except Exception:
            # An unreachable cache must not take the API down with it.
            logger.warning("rate limit cache unavailable; request allowed", exc_info=True)
            return True
        return count <= limit

    def wait(self) -> float:
        return max(1.0, self._retry_after)
