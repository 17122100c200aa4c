"""``POST /webhooks/github``: verify, record, queue, answer. No GitHub calls here."""

from __future__ import annotations

import json
import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from services.reviewer.github.intake import accept_delivery
from services.reviewer.github.webhooks import verify_signature
from shared.web import problem

logger = logging.getLogger(__name__)
router = APIRouter(tags=["github"])


@router.post("/webhooks/github", summary="GitHub App webhook deliveries")
async def github_webhook(request: Request) -> JSONResponse:
    secret = request.app.state.settings.reviewer_webhook_secret
    if secret is None:
        return problem(
            503, "The reviewer's webhook secret is not configured (ASCENT_REVIEWER_WEBHOOK_SECRET)."
        )
    body = await request.body()
    signature = request.headers.get("x-hub-signature-256")
    if not verify_signature(secret.get_secret_value().encode(), body, signature):
        return problem(401, "Missing or invalid X-Hub-Signature-256 for this App's secret.")
    event = request.headers.get("x-github-event", "")
    delivery = request.headers.get("x-github-delivery", "")
    if not event or not delivery or len(delivery) > 100 or len(event) > 100:
        return problem(400, "X-GitHub-Event and X-GitHub-Delivery headers are required.")
    try:
        text = body.decode("utf-8")
        payload = json.loads(text)
    except (ValueError, UnicodeDecodeError):
        return problem(400, "The body is not valid JSON.")
    if not isinstance(payload, dict):
        return problem(400, "The body must be a JSON object.")
    try:
        accepted = await accept_delivery(
            request.app.state.pool, request.app.state.jobs, event, delivery, payload, text
        )
    except Exception:
        # GitHub shows failed deliveries and can redeliver them; a 503 says "try again".
        logger.exception("could not record delivery %s (%s)", delivery, event)
        return problem(
            503,
            "The delivery could not be recorded; redeliver it later.",
            headers={"Retry-After": "30"},
        )
    return JSONResponse(accepted.body(), status_code=accepted.status_code)
