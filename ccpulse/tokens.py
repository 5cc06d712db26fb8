"""Agent links: a signed, expiring token that opens one agent's own page and nothing else.

Grafana cannot restrict a dashboard variable per viewer, so an agent who can open their own
Grafana page can read every colleague's. The built-in page is reached instead through a link
``ccpulse agent-link AGENT_ID`` prints: the token names the agent and the instant it expires,
signed (HMAC-SHA256, itsdangerous) with the ``web_secret`` setting. A page or JSON request
for agent B with A's token, an expired token, a token signed with another secret or none at
all is refused with 403 and says nothing of B. Changing the secret revokes every link.
"""

from __future__ import annotations

import time

from itsdangerous import BadSignature, URLSafeSerializer

SALT = "ccpulse.agent-link.v1"
DAY_S = 86_400


class AgentLinks:
    def __init__(self, secret: str) -> None:
        if len(secret) < 16:
            raise ValueError("web_secret must be at least 16 characters (set CCPULSE_WEB_SECRET)")
        self._serializer = URLSafeSerializer(secret, salt=SALT)

    def token(self, agent: str, days: float = 7, now_s: float | None = None) -> str:
        expires = int((time.time() if now_s is None else now_s) + days * DAY_S)
        return str(self._serializer.dumps({"a": agent, "e": expires}))

    def agent_of(self, token: str, now_s: float | None = None) -> str | None:
        """The agent a valid, unexpired token opens; None for anything else."""
        try:
            claims = self._serializer.loads(token)
        except BadSignature:
            return None
        if not isinstance(claims, dict) or not isinstance(claims.get("a"), str):
            return None
        expires = claims.get("e")
        now = time.time() if now_s is None else now_s
        if not isinstance(expires, int) or expires <= now:
            return None
        return claims["a"]

    def allows(self, token: str | None, agent: str, now_s: float | None = None) -> bool:
        return token is not None and self.agent_of(token, now_s) == agent
